//! Our CPU per FullLearnerView, in process, for profiling: seeds one heavy learner through the
//! API (goals with profiles, sessions, attempts, journal entries with follow-ups, three completed
//! profiling sessions, a portfolio project, recommended recipes), then sends the contract's
//! FullLearnerView through the server's own router (`http::router`: the JSON body parsed, the
//! request run, the response serialized to bytes, as over HTTP, minus the socket), one request
//! at a time and then 16 at once, and prints wall and CPU time per view. Nothing but the router
//! runs in the timed loops: no client, no JSON parsing of the responses. Run it under a profiler:
//!
//! ```sh
//! cargo build --release --example view_profile
//! perf record -g target/release/examples/view_profile --views 3000
//! valgrind --tool=callgrind target/release/examples/view_profile --views 100 --attempts 500
//! ```

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use anyhow::Context;
use async_graphql::{Request, Variables};
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use clap::Parser;
use learngraph::auth::Viewer;
use learngraph::clock::Clock;
use learngraph::config::{Config, Role, Secret};
use learngraph::graphql::{AppSchema, build_schema, execute};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Parser)]
struct Args {
    /// Views to run, in each of the two runs.
    #[arg(long, default_value_t = 2_000)]
    views: usize,
    /// Attempts of the heavy learner.
    #[arg(long, default_value_t = 2_000)]
    attempts: usize,
    /// Requests in flight at once in the second run.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Run on a fresh database on this PostgreSQL server instead of a temporary SQLite file.
    #[arg(long)]
    postgres: Option<String>,
    /// Send the views with a staff token, whose every read writes an access-log row (the default
    /// is open mode, as the benchmark's server runs).
    #[arg(long)]
    staff: bool,
}

const VIEW: &str = include_str!("../contract/learner-view.graphql");

/// An answer to each question of the shipped bank (`data/profiling/question-bank.json`), leaning
/// to the defender track.
const ANSWERS: &[(&str, &str)] = &[
    ("te_networking", "deep"),
    ("te_programming", "none"),
    ("te_operating_systems", "administer"),
    ("ws_team_role", "investigator"),
    ("ws_pressure", "triage"),
    ("ws_focus", "deep_solo"),
    ("sp_incident", "contain"),
    ("sp_project", "soc"),
    ("df_challenge", "hard"),
    ("iv_motivation", "protect"),
    ("iv_recognition", "team"),
    ("rf_growth", "judgement"),
];

/// This process's CPU time (user + system) so far, in seconds.
fn cpu_seconds() -> f64 {
    support::process_ticks("self").unwrap_or(0) as f64 / support::clock_ticks() as f64
}

/// Runs a seeding operation on the schema, as the HTTP layer does for a request in open mode.
async fn run(schema: &AppSchema, query: &str, operation: Option<&str>, variables: Value) -> anyhow::Result<Value> {
    let mut request = Request::new(query).variables(Variables::from_json(variables)).data(Viewer::Open);
    if let Some(op) = operation {
        request = request.operation_name(op);
    }
    let schema = schema.clone();
    let response = tokio::spawn(async move { execute(&schema, request).await }).await?;
    let value = serde_json::to_value(response)?;
    anyhow::ensure!(value.get("errors").is_none(), "errors: {value}");
    Ok(value["data"].clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "view-profile").await?;
    let mut config = Config::for_database(&database.url);
    config.max_complexity = 100_000;
    if args.staff {
        config.jwt_secret = Some(Secret::new("view-profile-secret"));
    }
    let state = learngraph::build_state(config, Clock::System).await?;
    let schema = build_schema(state.clone());

    let seeding = Instant::now();
    let learner = run(
        &schema,
        "mutation { ensureLearner(input: { externalId: \"heavy\" }) { learner { id } } }",
        None,
        json!({}),
    )
    .await?["ensureLearner"]["learner"]["id"]
        .clone();
    let mut goals = vec![];
    for g in 0..5 {
        let created = run(
            &schema,
            "mutation($l: ID!, $t: String!, $p: JSON) { createGoal(input: { learnerId: $l, title: $t, profile: $p }) { goal { id } } }",
            None,
            json!({ "l": learner, "t": format!("Goal {g}"), "p": { "level": g, "topics": ["a", "b"] } }),
        )
        .await?;
        goals.push(created["createGoal"]["goal"]["id"].clone());
    }
    let now = chrono::Utc::now();
    let mut sessions = vec![];
    for s in 0..60 {
        let at = now - chrono::TimeDelta::hours(24 * 60 - s * 24);
        let started = run(
            &schema,
            "mutation($l: ID!, $at: DateTime) { startSession(input: { learnerId: $l, kind: PRACTICE, startedAt: $at }) { session { id } } }",
            None,
            json!({ "l": learner, "at": at.to_rfc3339() }),
        )
        .await?;
        sessions.push((started["startSession"]["session"]["id"].clone(), at));
    }
    for i in 0..args.attempts {
        let (session, start) = &sessions[i % sessions.len()];
        let at = *start + chrono::TimeDelta::seconds(i as i64);
        run(
            &schema,
            "mutation($l: ID!, $e: String!, $ok: Boolean!, $at: DateTime, $s: ID, $g: ID) { recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: $ok, occurredAt: $at, sessionId: $s, goalId: $g }) { attempt { id } } }",
            None,
            json!({ "l": learner, "e": format!("ex-{}", i % 40), "ok": i % 3 != 0, "at": at.to_rfc3339(), "s": session, "g": goals[i % goals.len()] }),
        )
        .await?;
    }
    for j in 0..200 {
        let entry = run(
            &schema,
            "mutation($l: ID!, $c: String!) { createJournalEntry(input: { learnerId: $l, content: $c, moodTags: [\"calm\", \"curious\"] }) { entry { id } } }",
            None,
            json!({ "l": learner, "c": format!("Entry {j}: today I practised fractions and felt calmer.") }),
        )
        .await?["createJournalEntry"]["entry"]["id"]
            .clone();
        // A follow-up on every fourth of the 20 newest entries, the ones the view shows.
        if j >= 180 && j % 4 == 0 {
            run(
                &schema,
                "mutation($e: ID!) { addJournalFollowUp(input: { entryId: $e, question: \"What helped?\", answer: \"A short walk.\" }) { followUp { id } } }",
                None,
                json!({ "e": entry }),
            )
            .await?;
        }
    }
    // Three completed profiling sessions on the shipped bank, which make an outcome and a Value
    // Statement, a portfolio project, and recipes for the outcome's gap skills.
    for _ in 0..3 {
        let session = run(
            &schema,
            "mutation($l: ID!) { startProfilingSession(input: { learnerId: $l }) { session { id } } }",
            None,
            json!({ "l": learner }),
        )
        .await?["startProfilingSession"]["session"]["id"]
            .clone();
        for (question, option) in ANSWERS {
            run(
                &schema,
                "mutation($s: ID!, $q: String!, $o: String!) { answerProfilingQuestion(input: { sessionId: $s, questionId: $q, selectedOption: $o, responseTimeMs: 3000 }) { response { questionId } } }",
                None,
                json!({ "s": session, "q": question, "o": option }),
            )
            .await?;
        }
        run(
            &schema,
            "mutation($s: ID!) { completeProfilingSession(input: { sessionId: $s }) { session { id } } }",
            None,
            json!({ "s": session }),
        )
        .await?;
    }
    run(
        &schema,
        "mutation($l: ID!) { createPortfolioItem(input: { learnerId: $l, kind: PROJECT, title: \"Home lab\", content: \"A segmented network with an IDS.\" }) { item { id } } }",
        None,
        json!({ "l": learner }),
    )
    .await?;
    for (r, code) in ["NET-101", "SOC-110", "IR-120", "NET-101", "SOC-110"].iter().enumerate() {
        run(
            &schema,
            "mutation($s: String!, $t: String!, $c: [String!]!) { upsertRecipe(input: { slug: $s, title: $t, skillCodes: $c }) { created } }",
            None,
            json!({ "s": format!("recipe-{r}"), "t": format!("Recipe {r}"), "c": [code] }),
        )
        .await?;
    }
    println!("seeded in {:.1} s ({})", seeding.elapsed().as_secs_f64(), database.engine());

    // The request as a client sends it, and the router that serves it.
    let body = Bytes::from(
        json!({ "query": VIEW, "operationName": "FullLearnerView", "variables": { "externalId": "heavy" } })
            .to_string(),
    );
    let authorization = match args.staff {
        true => Some(format!("Bearer {}", state.auth.mint("profiler", Role::Staff, 3600).context("a staff token")?)),
        false => None,
    };
    let router = learngraph::http::router(state.clone());
    let post = Post { router, body, authorization };

    let before = state.statements.get();
    let first = post.send().await?;
    let statements = state.statements.get() - before;
    let parsed: Value = serde_json::from_slice(&first)?;
    anyhow::ensure!(parsed.get("errors").is_none() && parsed["data"]["learner"].is_object(), "errors: {parsed}");
    // The data does not change during the run, so every answer must be exactly this long.
    let expected = first.len();
    println!("FullLearnerView: a {expected}-byte response, {statements} SQL statements");

    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for _ in 0..args.views {
        post.expect(expected).await?;
    }
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    println!(
        "one at a time: {} views, {:.3} ms wall and {:.3} ms CPU per view",
        args.views,
        wall * 1000.0 / args.views as f64,
        cpu * 1000.0 / args.views as f64
    );

    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let per_task = args.views / args.concurrency;
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let post = post.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                post.expect(expected).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let done = per_task * args.concurrency;
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    println!(
        "{} at once: {done} views, {:.0} views/s, {:.3} ms CPU per view; peak RSS {} MiB",
        args.concurrency,
        done as f64 / wall,
        cpu * 1000.0 / done as f64,
        support::peak_rss_kib() / 1024
    );
    state.db.clone().close().await.ok();
    database.drop().await?;
    Ok(())
}

/// One POST /graphql through the router, as the server's listener hands it over.
#[derive(Clone)]
struct Post {
    router: axum::Router,
    body: Bytes,
    authorization: Option<String>,
}

impl Post {
    async fn send(&self) -> anyhow::Result<Bytes> {
        let mut request = axum::http::Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.authorization {
            request = request.header(header::AUTHORIZATION, token);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(self.body.clone()))?).await?;
        anyhow::ensure!(response.status() == StatusCode::OK, "status {}", response.status());
        Ok(axum::body::to_bytes(response.into_body(), usize::MAX).await?)
    }

    /// Sends the view; its answer must be `len` bytes long, as the first one was.
    async fn expect(&self, len: usize) -> anyhow::Result<()> {
        let answer = self.send().await?;
        anyhow::ensure!(
            answer.len() == len,
            "a {}-byte answer instead of {len}: {}",
            answer.len(),
            String::from_utf8_lossy(&answer)
        );
        Ok(())
    }
}
