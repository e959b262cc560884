//! The full learner view under load (issue 10): 10,000 learners seeded in bulk (one heavy learner
//! with 2,000 attempts, 60 sessions, 200 journal entries and 3 profiling sessions; 50 attempts and
//! a little of everything for each of the others, about 500,000 attempts in all), served by the
//! release binary as a process of its own, and read over HTTP at a given concurrency: the
//! dashboard's `FullLearnerView`, a flat view of the same learner (without and with each attempt's
//! goal and session), a page of 50 learners, and `{ __typename }`. For each it prints requests/s,
//! p50 and p99 latency, the server's and PostgreSQL's CPU per request, SQL statements per request
//! and the server's peak RSS; then the floor: the same rows fetched with plain SQL in this process.
//!
//! ```sh
//! cargo build --release --bin learngraph && cargo run --release --example view
//! cargo build --release --bin learngraph && cargo run --release --example view -- --postgres postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example view -- --learners 200 --seconds 3     # a quick try
//! ```
//!
//! Seeding goes through SQL in bulk: every row of a group of learners in one transaction, the
//! derived rows (practice days, exercise statistics, session counters, totals and streaks, profiling
//! telemetry, outcome and Value Statement) computed here with the crate's own rules, and a sample
//! of learners checked against `store::practice::rebuild`. Statements are counted by the hook the
//! tests use (`AppState::statements`) on an in-process server over the same database, since the
//! server process does not report them; on PostgreSQL the transactions the database counted for
//! the server process (`pg_stat_database.xact_commit`) are printed beside them.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use clap::Parser;
use entity::goal::GoalStatus;
use entity::journal_entry::JournalSource;
use entity::portfolio_item::PortfolioKind;
use entity::profiling_session::ProfilingStatus;
use entity::session::SessionKind;
use entity::{
    attempt, exercise_stat, goal, goal_profile_version, journal_entry, journal_follow_up, journal_mood_tag, learner,
    learner_progress, portfolio_item, practice_day, profiling_outcome, profiling_question_bank, profiling_response,
    profiling_session, recipe, recipe_skill, session,
};
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::domain::profiling::{self as rules, Answer, Bank, SkillMap};
use learngraph::domain::streak::StreakSummary;
use learngraph::{Server, build_state, store};
use sea_orm::prelude::Uuid;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Iterable, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Learners to seed, the heavy one included.
    #[arg(long, default_value_t = 10_000)]
    learners: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds each request kind (and each raw-SQL floor) runs, after the warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of warm-up before each request kind.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// The server binary; by default `learngraph` in the target directory this example runs from
    /// (`target/release/learngraph`).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Admin URL of a PostgreSQL server (a database is created and dropped); SQLite otherwise.
    #[arg(long)]
    postgres: Option<String>,
    /// The server's `LEARNGRAPH_WORKER_THREADS`; unset, its default (one per CPU).
    #[arg(long)]
    worker_threads: Option<usize>,
}

/// Answers in each of the heavy learner's profiling sessions (one per question: the bank needs at
/// least this many questions).
const HEAVY_ANSWERS: usize = 40;
/// Answers in the other learners' profiling sessions.
const ANSWERS: usize = 10;
/// Bind parameters per INSERT (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BIND: usize = 30_000;
/// Learners per seeding transaction.
const GROUP: usize = 250;

const VIEW: &str = include_str!("../contract/learner-view.graphql");
const FLAT: &str = "{ learner(externalId: \"heavy\") { externalId streak { current longest } goals { id title } \
    attempts(first: 50) { edges { node { id exerciseId isCorrect occurredAt } } } \
    sessions(first: 20) { edges { node { id kind startedAt } } } } }";
const FLAT_LINKED: &str = "{ learner(externalId: \"heavy\") { externalId streak { current longest } goals { id title } \
    attempts(first: 50) { edges { node { id exerciseId isCorrect occurredAt goal { id } session { id } } } } \
    sessions(first: 20) { edges { node { id kind startedAt } } } } }";
const PAGE: &str = "{ learners(first: 50) { nodes { externalId goals { id } streak { current } \
    progress { totalAttempts } attempts(first: 5) { nodes { id } } sessions(first: 5) { nodes { id } } \
    journalEntries(first: 5) { nodes { id } } } } }";
const TYPENAME: &str = "{ __typename }";

/// One kind of request and its body.
struct Kind {
    label: &'static str,
    body: Vec<u8>,
}

fn kinds() -> Vec<Kind> {
    let body = |query: &str, operation: Option<&str>, variables: Value| {
        json!({ "query": query, "operationName": operation, "variables": variables }).to_string().into_bytes()
    };
    vec![
        Kind {
            label: "(a) FullLearnerView",
            body: body(VIEW, Some("FullLearnerView"), json!({ "externalId": "heavy" })),
        },
        Kind { label: "(b) flat view", body: body(FLAT, None, json!({})) },
        Kind { label: "(c) flat + goal/session", body: body(FLAT_LINKED, None, json!({})) },
        Kind { label: "(d) learners(first: 50)", body: body(PAGE, None, json!({})) },
        Kind { label: "(e) { __typename }", body: body(TYPENAME, None, json!({})) },
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.learners >= 1 && args.concurrency >= 1 && args.seconds >= 1, "nothing to run");
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .map(|release| release.join("learngraph"))
            .context("the target directory")?,
    };
    anyhow::ensure!(
        binary.exists(),
        "no server binary at {}: build it first (`cargo build --release --bin learngraph`, with the same \
         CARGO_TARGET_DIR) or pass --server",
        binary.display()
    );
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "view").await?;
    let engine = database.engine();
    let url = database.url.clone();
    let clk_tck = support::clock_ticks();
    println!(
        "learngraph full learner view on {engine}: {} learners, concurrency {}, {} s per kind after {} s of warm-up",
        args.learners, args.concurrency, args.seconds, args.warmup
    );
    println!(
        "machine: {} cores, load average at start {}; {clk_tck} clock ticks/s",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load_average()
    );

    // The schema, the shipped question bank (version 1) and the statement counter, as the server
    // and the tests make them.
    let mut config = Config::for_database(&url);
    config.listen = "127.0.0.1:0".parse()?;
    let state = build_state(config.clone(), Clock::System).await?;

    let seeded = Instant::now();
    let seed = seed(&state.db, args.learners, args.postgres.is_some()).await?;
    println!("seeded in {:.1} s: {}", seeded.elapsed().as_secs_f64(), seed.describe);
    let checked = check_derived(&state.db, args.learners).await?;
    println!(
        "check: practice days, exercise statistics, session counters, totals and streak summaries of {checked} \
         learners (heavy included) equal what store::practice::rebuild computes from their attempts: passed"
    );
    if args.postgres.is_some() {
        let started = Instant::now();
        state.db.execute_unprepared("VACUUM ANALYZE").await?;
        println!(
            "VACUUM ANALYZE after the bulk load (what autovacuum would do) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let kinds = kinds();
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(args.concurrency).build()?;

    // Statements per request: an in-process server on the same database, counted by the hook the
    // tests use (sea-orm's metric callback on the pool: every statement, transactions included).
    let counts = count_statements(&state, &client, &kinds, args.concurrency).await?;
    state.db.clone().close().await.ok();

    // The server under test: the release binary, a process of its own.
    let mut server = ServerProcess::start(&binary, &url, args.worker_threads).await?;
    println!(
        "server: {} (pid {}), every setting at its default (open mode, query depth {} and complexity {}: all five \
         kinds pass; {} pooled connections){}",
        binary.display(),
        server.pid,
        config.max_depth,
        config.max_complexity,
        config.db_max_connections,
        match args.worker_threads {
            Some(n) => format!(" but LEARNGRAPH_WORKER_THREADS={n}"),
            None => " (worker threads: one per CPU)".to_owned(),
        }
    );
    let endpoint = format!("http://{}/graphql", server.addr);
    let pg = match &args.postgres {
        Some(admin) => Some(PgProbe::new(admin, &url).await?),
        None => None,
    };
    let mut results = Vec::new();
    for (kind, count) in kinds.iter().zip(&counts) {
        let shape = describe_response(&client, &endpoint, kind).await?;
        println!("{}: {shape}", kind.label);
        let job = http_job(&client, &endpoint, kind);
        let warm = drive(args.concurrency, Duration::from_secs(args.warmup), job.clone()).await;
        if let Some(e) = &warm.first_error {
            println!("  warm-up errors: {} (first: {e})", warm.errors);
        }
        let xact_before = match &pg {
            Some(pg) => {
                tokio::time::sleep(Duration::from_millis(1_500)).await; // backends flush their statistics
                Some(pg.xact_commit().await?)
            }
            None => None,
        };
        let pg_before = match &pg {
            Some(pg) => Some(pg.cpu().await?),
            None => None,
        };
        server.reset_peak();
        let server_before = support::process_ticks(&server.pid.to_string()).context("server stat")?;
        let run = drive(args.concurrency, Duration::from_secs(args.seconds), job).await;
        let server_after = support::process_ticks(&server.pid.to_string()).context("server stat")?;
        let pg_cpu = match (&pg, pg_before) {
            (Some(pg), Some(before)) => Some(pg.cpu().await?.since(&before)),
            _ => None,
        };
        let peak_kib = status_kib(server.pid, "VmHWM").unwrap_or(0);
        let xact = match (&pg, xact_before) {
            (Some(pg), Some(before)) => {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                Some(pg.xact_commit().await? - before)
            }
            _ => None,
        };
        results.push(Row {
            label: kind.label,
            run,
            server_ticks: server_after.saturating_sub(server_before),
            pg_cpu,
            xact,
            statements: count.clone(),
            peak_kib,
        });
    }
    server.stop()?;

    println!();
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>10} {:>15} {:>17} {:>8} {:>9} {:>9} {:>7}",
        "kind",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU",
        "PostgreSQL CPU",
        "statements/req",
        "xact/req",
        "srv VmHWM",
        "requests",
        "errors"
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>10} {:>15} {:>17} {:>8} {:>9} {:>9} {:>7}",
        "", "", "", "", "ms/req", "ms/req all|db", "alone | c=16", "", "MiB", "", ""
    );
    for row in &results {
        row.print(clk_tck);
    }
    for row in &results {
        if let Some(e) = &row.run.first_error {
            println!("{}: {} errors, first: {e}", row.label, row.run.errors);
        }
    }
    println!(
        "server CPU: utime+stime of the server process (/proc/<pid>/stat) over the run / requests. PostgreSQL CPU: \
         utime+stime summed over every process named postgres (other databases' work on this server included) | \
         over the backends connected to the benchmark's database. statements/req: in-process server, same \
         database, AppState::statements (the tests' hook), fewest..most of 5 requests one at a time | over {} s at \
         concurrency {}. xact/req: pg_stat_database.xact_commit of the benchmark's database over the HTTP run / \
         requests (PostgreSQL only; one per statement outside a transaction). VmHWM: the server's peak RSS during \
         that kind's run (reset with /proc/<pid>/clear_refs before it).",
        COUNT_SECONDS, args.concurrency
    );

    // The floor: the same rows with plain SQL, through the same driver and pool settings.
    let db = learngraph::db::connect(&config).await?;
    let map = SkillMap::parse_str(rules::DEFAULT_SKILL_MAP).map_err(|p| anyhow::anyhow!("skill map: {p:?}"))?;
    let map = Arc::new(map);
    println!();
    println!(
        "raw-SQL floor (this process, sea-orm query_all_raw on a DatabaseConnection from learngraph::db::connect, \
         plain statements one after another per view, rows fetched but not decoded into models or JSON), \
         concurrency {}, {} s each:",
        args.concurrency, args.seconds
    );
    for (label, full) in [("FullLearnerView rows", true), ("flat view rows", false)] {
        let (rows, statements) = floor_view(&db, &map, full).await?;
        let job = {
            let (db, map) = (db.clone(), map.clone());
            move || {
                let (db, map) = (db.clone(), map.clone());
                async move { floor_view(&db, &map, full).await.map(|_| ()) }
            }
        };
        drive(args.concurrency, Duration::from_secs(args.warmup), job.clone()).await;
        let run = drive(args.concurrency, Duration::from_secs(args.seconds), job).await;
        let mut latencies = run.latencies.clone();
        latencies.sort();
        println!(
            "  {label} ({rows} rows, {statements} statements per view): {:.0} views/s, p50 {:.2} ms, p99 {:.2} ms \
             ({} views, {} errors{})",
            latencies.len() as f64 / run.elapsed.as_secs_f64(),
            support::ms(support::pct(&latencies, 0.50)),
            support::ms(support::pct(&latencies, 0.99)),
            latencies.len(),
            run.errors,
            run.first_error.as_deref().map(|e| format!(", first: {e}")).unwrap_or_default()
        );
    }
    db.close().await.ok();
    println!("peak RSS of this process (seeding, load generator, floor): {} MiB", support::peak_rss_kib() / 1024);
    println!("load average at the end: {}", load_average());
    database.drop().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// What one learner gets.
struct Shape {
    goals: usize,
    /// Profile versions per goal (each kept in `goal_profile_versions`).
    versions: i32,
    sessions: usize,
    /// Days between two sessions (the newest starts two hours ago).
    session_every_days: i64,
    /// Whether the newest session is still open.
    open_session: bool,
    attempts: usize,
    /// Attempts outside sessions fall in the last this many days.
    span_days: i64,
    exercises: u64,
    entries: usize,
    /// Minutes between two journal entries.
    entry_every_minutes: i64,
    /// A follow-up on every this many entries (0: none).
    follow_up_every: usize,
    /// Profiling sessions, oldest first: (bank version, completed).
    profiling: Vec<(i32, bool)>,
}

impl Shape {
    fn heavy() -> Self {
        Shape {
            goals: 5,
            versions: 3,
            sessions: 60,
            session_every_days: 1,
            open_session: true,
            attempts: 2_000,
            span_days: 60,
            exercises: 40,
            entries: 200,
            entry_every_minutes: 60 * 24 * 60 / 200,
            follow_up_every: 4,
            profiling: vec![(2, true), (2, true), (2, false)],
        }
    }

    fn regular() -> Self {
        Shape {
            goals: 2,
            versions: 1,
            sessions: 5,
            session_every_days: 4,
            open_session: false,
            attempts: 50,
            span_days: 30,
            exercises: 12,
            entries: 3,
            entry_every_minutes: 7 * 24 * 60,
            follow_up_every: 0,
            profiling: vec![(1, true)],
        }
    }
}

/// Shared by the seeding tasks.
struct SeedContext {
    now: DateTime<Utc>,
    /// Bank version → the bank and the questions a session on it answers.
    banks: HashMap<i32, (Bank, Vec<String>)>,
    weak_below: f64,
}

/// Every row of a group of learners, inserted together in one transaction.
#[derive(Default)]
struct Rows {
    learners: Vec<learner::Model>,
    goals: Vec<goal::Model>,
    versions: Vec<goal_profile_version::Model>,
    sessions: Vec<session::Model>,
    attempts: Vec<attempt::Model>,
    days: Vec<practice_day::Model>,
    stats: Vec<exercise_stat::Model>,
    progress: Vec<learner_progress::Model>,
    entries: Vec<journal_entry::Model>,
    tags: Vec<journal_mood_tag::Model>,
    follow_ups: Vec<journal_follow_up::Model>,
    profiling: Vec<profiling_session::Model>,
    responses: Vec<profiling_response::Model>,
    outcomes: Vec<profiling_outcome::Model>,
    portfolio: Vec<portfolio_item::Model>,
}

impl Rows {
    async fn insert<C: ConnectionTrait>(self, db: &C) -> anyhow::Result<()> {
        insert::<learner::Entity, _>(db, self.learners).await?;
        insert::<goal::Entity, _>(db, self.goals).await?;
        insert::<goal_profile_version::Entity, _>(db, self.versions).await?;
        insert::<session::Entity, _>(db, self.sessions).await?;
        insert::<attempt::Entity, _>(db, self.attempts).await?;
        insert::<practice_day::Entity, _>(db, self.days).await?;
        insert::<exercise_stat::Entity, _>(db, self.stats).await?;
        insert::<learner_progress::Entity, _>(db, self.progress).await?;
        insert::<journal_entry::Entity, _>(db, self.entries).await?;
        insert::<journal_mood_tag::Entity, _>(db, self.tags).await?;
        insert::<journal_follow_up::Entity, _>(db, self.follow_ups).await?;
        insert::<profiling_session::Entity, _>(db, self.profiling).await?;
        insert::<profiling_response::Entity, _>(db, self.responses).await?;
        insert::<profiling_outcome::Entity, _>(db, self.outcomes).await?;
        insert::<portfolio_item::Entity, _>(db, self.portfolio).await?;
        Ok(())
    }
}

/// Inserts rows in multi-row INSERTs of at most `MAX_BIND` values.
async fn insert<E, C>(db: &C, rows: Vec<E::Model>) -> anyhow::Result<()>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let per = (MAX_BIND / E::Column::iter().count()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(per).map(IntoActiveModel::into_active_model).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// What was seeded, in words.
struct Seeded {
    describe: String,
}

async fn seed(db: &DatabaseConnection, learners: usize, postgres: bool) -> anyhow::Result<Seeded> {
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).context("now")?;
    // Bank version 1 is the shipped bank, stored by build_state. It has fewer questions than the
    // heavy learner answers, so a second version is published (as `publishProfilingQuestionBank`
    // would): the shipped questions, then copies of them under new ids.
    let shipped = Bank::parse_str(rules::DEFAULT_BANK).map_err(|p| anyhow::anyhow!("shipped bank: {p:?}"))?;
    let stored: Vec<i32> = profiling_question_bank::Entity::find()
        .select_only()
        .column(profiling_question_bank::Column::Version)
        .into_tuple()
        .all(db)
        .await?;
    anyhow::ensure!(stored == [1], "expected the shipped bank alone as version 1, found versions {stored:?}");
    let extended = extended_bank(&shipped, HEAVY_ANSWERS)?;
    profiling_question_bank::Entity::insert(
        profiling_question_bank::Model {
            version: 2,
            bank: serde_json::to_value(&extended)?,
            question_count: i32::try_from(extended.questions.len())?,
            published_by: "examples/view.rs".to_owned(),
            published_at: now,
        }
        .into_active_model(),
    )
    .exec_without_returning(db)
    .await?;
    let regular_questions = covering(&shipped, ANSWERS)?;
    let heavy_questions: Vec<String> = extended.questions.iter().map(|q| q.id.clone()).collect();
    let map = SkillMap::parse_str(rules::DEFAULT_SKILL_MAP).map_err(|p| anyhow::anyhow!("skill map: {p:?}"))?;
    let recipes = seed_recipes(db, &map, now).await?;
    let context = Arc::new(SeedContext {
        now,
        banks: HashMap::from([(1, (shipped.clone(), regular_questions)), (2, (extended.clone(), heavy_questions))]),
        weak_below: map.weak_below,
    });

    // Groups of learners, one transaction each; on PostgreSQL three at a time.
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..if postgres { 3 } else { 1 } {
        let (db, next, context) = (db.clone(), next.clone(), context.clone());
        tasks.push(tokio::spawn(async move {
            let mut counted = Counted::default();
            loop {
                let start = next.fetch_add(GROUP, Ordering::Relaxed);
                if start >= learners {
                    return anyhow::Ok(counted);
                }
                let mut rows = Rows::default();
                for i in start..(start + GROUP).min(learners) {
                    learner_rows(&mut rows, &context, i)?;
                }
                counted.add(&rows);
                let txn = db.begin().await?;
                rows.insert(&txn).await?;
                txn.commit().await?;
            }
        }));
    }
    let mut total = Counted::default();
    for task in tasks {
        total.merge(task.await??);
    }
    let others = learners - 1;
    let heavy = Shape::heavy();
    let regular = Shape::regular();
    Ok(Seeded {
        describe: format!(
            "{learners} learners, {} attempts, {} sessions, {} goals ({} profile versions), {} journal entries \
             ({} mood tags, {} follow-ups), {} profiling sessions ({} answers), {} practice days, {} exercise \
             statistics, {recipes} recipes.\n  heavy learner `heavy`: {} goals with JSON profiles ({} versions each), \
             {} attempts over {} days (every other one in one of its {} sessions, every third towards a goal), {} \
             journal entries (a follow-up on every {}th), {} profiling sessions × {} answers (2 completed, 1 in \
             progress) on bank version 2 (the shipped bank's {} questions + {} copies under new ids: the shipped \
             bank has fewer than {HEAVY_ANSWERS} questions).\n  each of the {others} others: {} goals, {} sessions, {} \
             attempts over {} days, {} journal entries, 1 completed profiling session × {ANSWERS} answers on the \
             shipped bank (version 1). Every learner in UTC.",
            total.attempts,
            total.sessions,
            total.goals,
            total.versions,
            total.entries,
            total.tags,
            total.follow_ups,
            total.profiling,
            total.responses,
            total.days,
            total.stats,
            heavy.goals,
            heavy.versions,
            heavy.attempts,
            heavy.span_days,
            heavy.sessions,
            heavy.entries,
            heavy.follow_up_every,
            heavy.profiling.len(),
            HEAVY_ANSWERS,
            shipped.questions.len(),
            extended.questions.len() - shipped.questions.len(),
            regular.goals,
            regular.sessions,
            regular.attempts,
            regular.span_days,
            regular.entries,
        ),
    })
}

/// Row counts, for the description.
#[derive(Default)]
struct Counted {
    attempts: usize,
    sessions: usize,
    goals: usize,
    versions: usize,
    entries: usize,
    tags: usize,
    follow_ups: usize,
    profiling: usize,
    responses: usize,
    days: usize,
    stats: usize,
}

impl Counted {
    fn add(&mut self, rows: &Rows) {
        self.attempts += rows.attempts.len();
        self.sessions += rows.sessions.len();
        self.goals += rows.goals.len();
        self.versions += rows.versions.len();
        self.entries += rows.entries.len();
        self.tags += rows.tags.len();
        self.follow_ups += rows.follow_ups.len();
        self.profiling += rows.profiling.len();
        self.responses += rows.responses.len();
        self.days += rows.days.len();
        self.stats += rows.stats.len();
    }

    fn merge(&mut self, o: Counted) {
        self.attempts += o.attempts;
        self.sessions += o.sessions;
        self.goals += o.goals;
        self.versions += o.versions;
        self.entries += o.entries;
        self.tags += o.tags;
        self.follow_ups += o.follow_ups;
        self.profiling += o.profiling;
        self.responses += o.responses;
        self.days += o.days;
        self.stats += o.stats;
    }
}

/// The shipped bank's questions, then copies under new ids (`<id>_2`, …) up to `n` questions.
fn extended_bank(shipped: &Bank, n: usize) -> anyhow::Result<Bank> {
    let mut questions = shipped.questions.clone();
    let mut copy = 2;
    while questions.len() < n {
        for q in shipped.questions.iter().take(n - questions.len()) {
            let mut q = q.clone();
            q.id = format!("{}_{copy}", q.id);
            q.prompt = format!("{} (set {copy})", q.prompt);
            questions.push(q);
        }
        copy += 1;
    }
    let bank = Bank { questions };
    let problems = bank.problems();
    anyhow::ensure!(problems.is_empty(), "the extended bank is invalid: {problems:?}");
    Ok(bank)
}

/// `n` question ids of the bank covering every module (completion needs one answer per module).
fn covering(bank: &Bank, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for module in rules::MODULES {
        let q = bank.questions.iter().find(|q| q.module == module).context("a module without questions")?;
        ids.push(q.id.clone());
    }
    for q in &bank.questions {
        if ids.len() >= n {
            break;
        }
        if !ids.contains(&q.id) {
            ids.push(q.id.clone());
        }
    }
    anyhow::ensure!(ids.len() == n, "the shipped bank has fewer than {n} questions");
    Ok(ids)
}

/// A catalog of 30 recipes teaching the skill map's skills (for `recipeRecommendations`).
async fn seed_recipes(db: &DatabaseConnection, map: &SkillMap, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut codes: Vec<String> =
        map.tracks.values().chain(map.modules.values()).flat_map(|a| a.skills.iter().cloned()).collect();
    codes.sort();
    codes.dedup();
    let (mut recipes, mut skills) = (Vec::new(), Vec::new());
    for i in 0..30usize {
        let id = Uuid::now_v7();
        let mut own = vec![codes[i % codes.len()].clone(), codes[(i * 7 + 3) % codes.len()].clone()];
        own.dedup();
        for code in &own {
            skills.push(recipe_skill::Model { recipe_id: id, skill_code: code.clone() });
        }
        recipes.push(recipe::Model {
            id,
            slug: format!("recipe-{i:02}"),
            title: format!("Recipe {i}"),
            description: Some(format!("Practice plan {i} for {}", own.join(", "))),
            skill_codes: json!(own),
            usage_count: 1_000 - 13 * i as i64,
            avg_rating: 3.0 + (i % 20) as f64 / 10.0,
            is_active: i % 10 != 9,
            created_at: now,
            updated_at: now,
        });
    }
    let n = recipes.len();
    insert::<recipe::Entity, _>(db, recipes).await?;
    insert::<recipe_skill::Entity, _>(db, skills).await?;
    Ok(n)
}

const WORDS: [&str; 24] = [
    "today",
    "I",
    "practised",
    "fractions",
    "and",
    "felt",
    "calmer",
    "than",
    "yesterday",
    "the",
    "tutor",
    "helped",
    "me",
    "see",
    "why",
    "my",
    "answers",
    "were",
    "wrong",
    "so",
    "next",
    "time",
    "will",
    "focus",
];
const FOCUS: [&str; 5] = ["fractions", "decimals", "geometry", "algebra", "statistics"];
const MOODS: [&str; 6] = ["calm", "focused", "tired", "anxious", "proud", "curious"];

/// Roughly `len` characters of words.
fn text(seed: u64, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut k = 0;
    while out.len() < len {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(WORDS[(support::mix(seed + k) % WORDS.len() as u64) as usize]);
        k += 1;
    }
    out.push('.');
    out
}

/// Every row of learner `i` (0 is the heavy one), with the derived rows computed from them.
fn learner_rows(rows: &mut Rows, cx: &SeedContext, i: usize) -> anyhow::Result<()> {
    let now = cx.now;
    let heavy = i == 0;
    let shape = if heavy { Shape::heavy() } else { Shape::regular() };
    let r = |k: u64| support::mix((i as u64) << 24 | k);
    let id = Uuid::now_v7();
    let external_id = if heavy { "heavy".to_owned() } else { format!("learner-{i:05}") };
    let display_name = if heavy { "Heavy Learner".to_owned() } else { format!("Learner {i}") };
    let created = now - TimeDelta::days(400) + TimeDelta::seconds(i as i64);
    let settings = if heavy {
        store::learner::Settings {
            theme: Some("dark".to_owned()),
            preferred_meditation_minutes: Some(10),
            preferred_mentor_category: Some("technical".to_owned()),
        }
    } else {
        store::learner::Settings::default()
    };
    rows.learners.push(learner::Model {
        id,
        search_text: store::learner::search_text(&external_id, Some(&display_name)),
        external_id,
        display_name: Some(display_name),
        bio: None,
        time_zone: "UTC".to_owned(),
        settings: serde_json::to_value(settings)?,
        created_at: created,
        updated_at: created,
    });

    // Goals, each profile version kept.
    let mut goals = Vec::new();
    for g in 0..shape.goals {
        let goal_id = Uuid::now_v7();
        let at = created + TimeDelta::minutes(g as i64 + 1);
        let profile = |v: i32| {
            json!({
                "level": v,
                "focus": FOCUS[g % 5],
                "targetMinutesPerDay": 15 + 5 * g,
                "milestones": (0..3 + g).map(|m| json!({ "name": format!("milestone {m}"), "done": (m as i32) < v })).collect::<Vec<_>>(),
                "notes": text(r(10_000 + g as u64), 120),
            })
        };
        for v in 1..=shape.versions {
            rows.versions.push(goal_profile_version::Model {
                id: Uuid::now_v7(),
                goal_id,
                learner_id: id,
                version: v,
                profile: profile(v),
                created_at: at + TimeDelta::days(i64::from(v) - 1),
            });
        }
        let updated = at + TimeDelta::days(i64::from(shape.versions) - 1);
        rows.goals.push(goal::Model {
            id: goal_id,
            learner_id: id,
            external_id: Some(format!("goal-{g}")),
            title: format!("Goal {g}: {}", FOCUS[g % 5]),
            status: if g == 4 { GoalStatus::Completed } else { GoalStatus::Active },
            profile: profile(shape.versions),
            profile_version: shape.versions,
            profile_updated_at: Some(updated),
            created_at: at,
            updated_at: updated,
        });
        goals.push(goal_id);
    }

    // Sessions (newest first), then attempts, in them or not; the counters follow the attempts.
    let mut sessions: Vec<session::Model> = (0..shape.sessions)
        .map(|k| {
            let start = now - TimeDelta::days(k as i64 * shape.session_every_days) - TimeDelta::hours(2);
            session::Model {
                id: Uuid::now_v7(),
                learner_id: id,
                kind: SessionKind::Practice,
                started_at: start,
                ended_at: (k > 0 || !shape.open_session).then(|| start + TimeDelta::minutes(40)),
                total_exercises: 0,
                correct_answers: 0,
                created_at: start,
            }
        })
        .collect();
    let mut days: BTreeMap<NaiveDate, (i32, i32)> = BTreeMap::new();
    let mut stats: BTreeMap<String, (i32, i32, DateTime<Utc>)> = BTreeMap::new();
    let (mut total, mut correct) = (0i64, 0i64);
    for j in 0..shape.attempts {
        let x = r(j as u64);
        let (at, session_id) = if j % 2 == 0 && !sessions.is_empty() {
            let s = &mut sessions[(j / 2) % shape.sessions];
            (s.started_at + TimeDelta::seconds((x % 2_400) as i64), Some(s))
        } else {
            (now - TimeDelta::seconds(60 + (x % (shape.span_days as u64 * 86_400)) as i64), None)
        };
        let ok = x % 3 != 0;
        let session_id = session_id.map(|s| {
            s.total_exercises += 1;
            s.correct_answers += i32::from(ok);
            s.id
        });
        let exercise = format!("ex-{}", (x >> 8) % shape.exercises);
        let day = at.date_naive();
        let d = days.entry(day).or_default();
        d.0 += 1;
        d.1 += i32::from(ok);
        let s = stats.entry(exercise.clone()).or_insert((0, 0, at));
        s.0 += 1;
        s.1 += i32::from(ok);
        s.2 = s.2.max(at);
        total += 1;
        correct += i64::from(ok);
        rows.attempts.push(attempt::Model {
            id: Uuid::now_v7(),
            learner_id: id,
            session_id,
            goal_id: (j % 3 == 0 && !goals.is_empty()).then(|| goals[(j / 3) % goals.len()]),
            exercise_id: exercise,
            activity_type: None,
            objective_id: None,
            is_correct: ok,
            score: Some(((x >> 16) % 101) as f64 / 100.0),
            user_answer: Some(format!("{}", (x >> 24) % 100)),
            response_time_ms: Some(1_000 + ((x >> 32) % 60_000) as i32),
            details: None,
            occurred_at: at,
            local_date: day,
            created_at: at,
            idempotency_key: None,
            completed: None,
        });
    }
    let streak = StreakSummary::from_days(days.keys().copied());
    rows.days.extend(days.into_iter().map(|(day, (attempts, correct))| practice_day::Model {
        learner_id: id,
        day,
        attempts,
        correct,
    }));
    rows.stats.extend(stats.into_iter().map(|(exercise_id, (attempts, correct, last))| exercise_stat::Model {
        learner_id: id,
        exercise_id,
        attempts,
        correct,
        last_attempt_at: last,
    }));
    rows.progress.push(learner_progress::Model {
        learner_id: id,
        total_attempts: total,
        correct_attempts: correct,
        longest_streak: i32::try_from(streak.longest)?,
        last_practice_date: streak.last_practice_date,
        current_run_start: streak.current_run_start,
    });
    rows.sessions.extend(sessions);

    // Journal entries (newest first) with their mood tags, and follow-ups.
    for e in 0..shape.entries {
        let x = r(50_000 + e as u64);
        let at = now - TimeDelta::minutes(30 + e as i64 * shape.entry_every_minutes);
        let entry = Uuid::now_v7();
        let mut tags: Vec<String> = (0..x % 4).map(|t| MOODS[((x >> (8 + 4 * t)) % 6) as usize].to_owned()).collect();
        let mut seen = std::collections::HashSet::new();
        tags.retain(|t| seen.insert(t.clone()));
        rows.tags.extend(tags.iter().map(|t| journal_mood_tag::Model {
            entry_id: entry,
            tag: t.clone(),
            learner_id: id,
        }));
        rows.entries.push(journal_entry::Model {
            id: entry,
            learner_id: id,
            content: text(x, 200 + (x % 700) as usize),
            mood_tags: json!(tags),
            source: JournalSource::Manual,
            embedding: None,
            created_at: at,
            updated_at: at,
            idempotency_key: None,
        });
        if shape.follow_up_every > 0 && e % shape.follow_up_every == 0 {
            rows.follow_ups.push(journal_follow_up::Model {
                id: Uuid::now_v7(),
                learner_id: id,
                entry_id: entry,
                question: "What made today different?".to_owned(),
                answer: text(x + 1, 160),
                synthesized_entry_id: None,
                created_at: at + TimeDelta::minutes(5),
            });
        }
    }

    // Profiling: answers, and for completed sessions what completion computes; the newest
    // completed session gives the outcome and the Value Statement.
    let count = shape.profiling.len();
    let mut latest: Option<(Uuid, DateTime<Utc>, profiling_outcome::Model, String)> = None;
    let mut first_completed: Option<DateTime<Utc>> = None;
    for (p, (version, completed)) in shape.profiling.iter().enumerate() {
        let (bank, questions) = cx.banks.get(version).context("bank version")?;
        let session_id = Uuid::now_v7();
        let started = now - TimeDelta::days(20 * (count - p) as i64) - TimeDelta::hours(1);
        let mut answers = Vec::new();
        for (n, question) in questions.iter().enumerate() {
            let x = r(70_000 + 1_000 * p as u64 + n as u64);
            let options = &bank.question(question).context("question")?.options;
            let answer = Answer {
                question_id: question.clone(),
                selected_option: options[(x % options.len() as u64) as usize].value.clone(),
                response_time_ms: 1_500 + (x % 20_000) as i32,
            };
            rows.responses.push(profiling_response::Model {
                session_id,
                question_id: answer.question_id.clone(),
                learner_id: id,
                selected_option: answer.selected_option.clone(),
                response_time_ms: answer.response_time_ms,
                answered_at: started + TimeDelta::seconds(20 * (n as i64 + 1)),
            });
            answers.push(answer);
        }
        let done = started + TimeDelta::seconds(20 * (questions.len() as i64 + 1) + 10);
        let telemetry = if *completed {
            let telemetry =
                rules::score(bank, &answers, cx.weak_below).map_err(|e| anyhow::anyhow!("scoring: {e:?}"))?;
            let statement = rules::value_statement(bank, &answers).map_err(|e| anyhow::anyhow!("statement: {e:?}"))?;
            let weak: Vec<rules::ModuleScore> = telemetry
                .module_scores
                .iter()
                .filter(|s| telemetry.weak_modules.contains(&s.module))
                .cloned()
                .collect();
            let outcome = profiling_outcome::Model {
                learner_id: id,
                session_id,
                track_key: telemetry.primary_track.clone(),
                alignment: serde_json::to_value(&telemetry.alignment)?,
                weak_modules: serde_json::to_value(&weak)?,
                completed_at: done,
            };
            first_completed.get_or_insert(done);
            latest = Some((session_id, done, outcome, statement));
            Some(serde_json::to_value(&telemetry)?)
        } else {
            None
        };
        rows.profiling.push(profiling_session::Model {
            id: session_id,
            learner_id: id,
            bank_version: *version,
            status: if *completed { ProfilingStatus::Completed } else { ProfilingStatus::InProgress },
            started_at: started,
            completed_at: completed.then_some(done),
            telemetry,
        });
    }
    if let (Some((session_id, done, outcome, statement)), Some(first)) = (latest, first_completed) {
        rows.outcomes.push(outcome);
        rows.portfolio.push(portfolio_item::Model {
            id: Uuid::now_v7(),
            learner_id: id,
            kind: PortfolioKind::ValueStatement,
            title: store::profiling::VALUE_STATEMENT_TITLE.to_owned(),
            content: statement,
            url: None,
            profiling_session_id: Some(session_id),
            created_at: first,
            updated_at: done,
        });
    }
    Ok(())
}

/// The derived practice rows of a learner, as stored.
#[derive(Debug, PartialEq)]
struct Derived {
    progress: Option<learner_progress::Model>,
    days: Vec<practice_day::Model>,
    stats: Vec<exercise_stat::Model>,
    sessions: Vec<(Uuid, i32, i32)>,
}

async fn derived<C: ConnectionTrait>(db: &C, learner_id: Uuid) -> anyhow::Result<Derived> {
    Ok(Derived {
        progress: learner_progress::Entity::find_by_id(learner_id).one(db).await?,
        days: practice_day::Entity::find()
            .filter(practice_day::Column::LearnerId.eq(learner_id))
            .order_by_asc(practice_day::Column::Day)
            .all(db)
            .await?,
        stats: exercise_stat::Entity::find()
            .filter(exercise_stat::Column::LearnerId.eq(learner_id))
            .order_by_asc(exercise_stat::Column::ExerciseId)
            .all(db)
            .await?,
        sessions: session::Entity::find()
            .filter(session::Column::LearnerId.eq(learner_id))
            .order_by_asc(session::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.total_exercises, s.correct_answers))
            .collect(),
    })
}

/// Rebuilds the derived rows of the heavy learner and of about 40 others from their attempts (in
/// a transaction rolled back afterwards) and compares them with the seeded ones. Returns how many
/// learners were checked.
async fn check_derived(db: &DatabaseConnection, learners: usize) -> anyhow::Result<usize> {
    let ids: Vec<Uuid> = learner::Entity::find()
        .select_only()
        .column(learner::Column::Id)
        .order_by_asc(learner::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    anyhow::ensure!(ids.len() == learners, "{} learners stored, {learners} seeded", ids.len());
    let step = (learners / 40).max(1);
    let sample: Vec<Uuid> = ids.iter().step_by(step).copied().collect();
    for id in &sample {
        let txn = db.begin().await?;
        let seeded = derived(&txn, *id).await?;
        anyhow::ensure!(seeded.progress.is_some(), "learner {id} has no progress row");
        store::practice::rebuild(&txn, *id).await.map_err(|e| anyhow::anyhow!("rebuild: {}", e.message()))?;
        let rebuilt = derived(&txn, *id).await?;
        txn.rollback().await?;
        anyhow::ensure!(seeded == rebuilt, "learner {id}: seeded {seeded:?}\nrebuilt {rebuilt:?}");
    }
    Ok(sample.len())
}

// ---------------------------------------------------------------------------------------------
// Statements, counted in process

/// Seconds of the in-process concurrent count per kind.
const COUNT_SECONDS: u64 = 3;

/// Statements per request of one kind: fewest and most of five requests one at a time, and the
/// mean at the benchmark's concurrency.
#[derive(Clone)]
struct Statements {
    fewest: u64,
    most: u64,
    concurrent: f64,
}

async fn count_statements(
    state: &learngraph::graphql::AppState,
    client: &reqwest::Client,
    kinds: &[Kind],
    concurrency: usize,
) -> anyhow::Result<Vec<Statements>> {
    let server = Server::bind(state.clone()).await?;
    let endpoint = format!("http://{}/graphql", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        stopped.await.ok();
    }));
    let mut out = Vec::new();
    for kind in kinds {
        let mut counts = Vec::new();
        for _ in 0..5 {
            let before = state.statements.get();
            post(client, &endpoint, kind.body.clone()).await.with_context(|| format!("{} in process", kind.label))?;
            counts.push(state.statements.get() - before);
        }
        let before = state.statements.get();
        let run = drive(concurrency, Duration::from_secs(COUNT_SECONDS), http_job(client, &endpoint, kind)).await;
        let statements = state.statements.get() - before;
        if let Some(e) = &run.first_error {
            anyhow::bail!("{} in process: {} errors, first: {e}", kind.label, run.errors);
        }
        out.push(Statements {
            fewest: counts.iter().copied().min().unwrap_or(0),
            most: counts.iter().copied().max().unwrap_or(0),
            concurrent: statements as f64 / run.latencies.len().max(1) as f64,
        });
    }
    stop.send(()).ok();
    serving.await.ok();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The server process and what it costs

struct ServerProcess {
    child: Child,
    pid: u32,
    addr: std::net::SocketAddr,
    log: PathBuf,
}

impl ServerProcess {
    async fn start(binary: &std::path::Path, url: &str, worker_threads: Option<usize>) -> anyhow::Result<Self> {
        // A free port, picked here (the server logs the one port 0 would give it).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::env::temp_dir().join(format!("learngraph-view-server-{}.log", Uuid::new_v4().simple()));
        let mut command = Command::new(binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("LEARNGRAPH_") {
                command.env_remove(key);
            }
        }
        if let Some(n) = worker_threads {
            command.env("LEARNGRAPH_WORKER_THREADS", n.to_string());
        }
        let child = command
            .arg("serve")
            .env("LEARNGRAPH_DATABASE_URL", url)
            .env("LEARNGRAPH_LISTEN", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        let mut server = ServerProcess { child, pid, addr, log };
        let client = reqwest::Client::builder().no_proxy().build()?;
        let ready = format!("http://{addr}/readyz");
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("the server exited ({status}):\n{}", server.log_text());
            }
            if let Ok(res) = client.get(&ready).send().await
                && res.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                server.child.kill().ok();
                anyhow::bail!("the server did not become ready within 60 s:\n{}", server.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("server ready in {:.1} s", started.elapsed().as_secs_f64());
        Ok(server)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resets the peak RSS (VmHWM) to the current RSS.
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").ok();
    }

    /// SIGTERM (the server finishes, checkpoints SQLite and exits), then waits.
    fn stop(&mut self) -> anyhow::Result<()> {
        Command::new("kill").args(["-TERM", &self.pid.to_string()]).status()?;
        let status = self.child.wait()?;
        let log = self.log_text();
        // Beyond the open-mode warning every start in open mode logs.
        let problems: Vec<&str> = log
            .lines()
            .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && !l.contains("open development mode"))
            .collect();
        if !status.success() || !problems.is_empty() {
            println!("server exited with {status}; warnings and errors in its log:");
            for line in problems {
                println!("  {line}");
            }
        }
        std::fs::remove_file(&self.log).ok();
        Ok(())
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A `kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// Ticks of every process named `postgres`, by pid.
fn postgres_ticks() -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() == "postgres"
            && let Some(ticks) = support::process_ticks(&pid.to_string())
        {
            out.insert(pid, ticks);
        }
    }
    out
}

/// PostgreSQL's side: CPU of its processes and the benchmark database's transactions.
struct PgProbe {
    admin: DatabaseConnection,
    database: String,
}

/// PostgreSQL CPU at one moment: every postgres process, and which of them serve the benchmark's
/// database.
struct PgCpu {
    ticks: HashMap<u32, u64>,
    bench: Vec<u32>,
}

/// Ticks spent between two `PgCpu`: all processes, and the benchmark database's backends.
#[derive(Clone, Copy)]
struct PgSpent {
    all: u64,
    bench: u64,
}

impl PgCpu {
    fn since(&self, before: &PgCpu) -> PgSpent {
        let spent = |pid: &u32| {
            let now = self.ticks.get(pid).copied().unwrap_or(0);
            now.saturating_sub(before.ticks.get(pid).copied().unwrap_or(0))
        };
        let mut bench: Vec<u32> = before.bench.iter().chain(&self.bench).copied().collect();
        bench.sort_unstable();
        bench.dedup();
        PgSpent { all: self.ticks.keys().map(spent).sum(), bench: bench.iter().map(spent).sum() }
    }
}

impl PgProbe {
    async fn new(admin: &str, url: &str) -> anyhow::Result<Self> {
        let database = url.rsplit_once('/').map(|(_, name)| name.to_owned()).context("database name")?;
        Ok(PgProbe { admin: sea_orm::Database::connect(admin).await?, database })
    }

    async fn xact_commit(&self) -> anyhow::Result<i64> {
        let row = self
            .admin
            .query_one_raw(Statement::from_sql_and_values(
                self.admin.get_database_backend(),
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                [self.database.clone().into()],
            ))
            .await?
            .context("pg_stat_database row")?;
        Ok(row.try_get("", "xact_commit")?)
    }

    async fn cpu(&self) -> anyhow::Result<PgCpu> {
        let rows = self
            .admin
            .query_all_raw(Statement::from_sql_and_values(
                self.admin.get_database_backend(),
                "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                [self.database.clone().into()],
            ))
            .await?;
        let bench = rows.iter().filter_map(|r| r.try_get::<i32>("", "pid").ok()).map(|p| p as u32).collect();
        Ok(PgCpu { ticks: postgres_ticks(), bench })
    }
}

// ---------------------------------------------------------------------------------------------
// Load

/// The requests of one timed run.
struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `job` on `concurrency` tasks, each starting jobs until `duration` has passed; the run ends
/// when the last job in flight has.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, job: F) -> Run
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let job = job.clone();
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut first_error) = (Vec::new(), 0u64, None);
            while start.elapsed() < duration {
                let t = Instant::now();
                match job().await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut run = Run { elapsed: Duration::ZERO, latencies: Vec::new(), errors: 0, first_error: None };
    for w in workers {
        match w.await {
            Ok((latencies, errors, first_error)) => {
                run.latencies.extend(latencies);
                run.errors += errors;
                if run.first_error.is_none() {
                    run.first_error = first_error;
                }
            }
            Err(e) => {
                run.errors += 1;
                run.first_error.get_or_insert_with(|| format!("worker: {e}"));
            }
        }
    }
    run.elapsed = start.elapsed();
    run
}

/// What is checked of every response: no `errors`, and `data`.
#[derive(serde::Deserialize)]
struct Envelope {
    data: Option<serde::de::IgnoredAny>,
    errors: Option<Value>,
}

/// POSTs a body; fails on an HTTP error, on `errors`, or without `data`. Returns the body's size.
async fn post(client: &reqwest::Client, endpoint: &str, body: Vec<u8>) -> anyhow::Result<usize> {
    let res = client.post(endpoint).header(reqwest::header::CONTENT_TYPE, "application/json").body(body).send().await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    anyhow::ensure!(status.is_success(), "HTTP {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
    let envelope: Envelope = serde_json::from_slice(&bytes)?;
    if let Some(errors) = envelope.errors {
        anyhow::bail!("errors: {errors}");
    }
    anyhow::ensure!(envelope.data.is_some(), "no data");
    Ok(bytes.len())
}

fn http_job(
    client: &reqwest::Client,
    endpoint: &str,
    kind: &Kind,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Clone + Send + 'static {
    let (client, endpoint, body) = (client.clone(), endpoint.to_owned(), Arc::new(kind.body.clone()));
    move || {
        let (client, endpoint, body) = (client.clone(), endpoint.clone(), body.clone());
        Box::pin(async move { post(&client, &endpoint, body.as_ref().clone()).await.map(|_| ()) })
    }
}

/// One request of a kind, read in full: its size and how many rows of each list it holds.
async fn describe_response(client: &reqwest::Client, endpoint: &str, kind: &Kind) -> anyhow::Result<String> {
    let res = client
        .post(endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(kind.body.clone())
        .send()
        .await?;
    let bytes = res.bytes().await?;
    let body: Value = serde_json::from_slice(&bytes)?;
    anyhow::ensure!(body.get("errors").is_none(), "{}: {}", kind.label, body["errors"]);
    let data = &body["data"];
    anyhow::ensure!(data.is_object(), "{}: no data", kind.label);
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    let l = &data["learner"];
    let sum = |list: &Value, inner: &dyn Fn(&Value) -> usize| list.as_array().map_or(0, |a| a.iter().map(inner).sum());
    let shape = if l.is_object() {
        let mut parts = vec![
            format!("{} goals", len(&l["goals"])),
            format!("{} attempts", len(&l["attempts"]["edges"])),
            format!("{} sessions", len(&l["sessions"]["edges"])),
            format!("streak {}", l["streak"]["current"]),
        ];
        if l.get("journalEntries").is_some() {
            parts.push(format!(
                "{} journal entries ({} follow-ups)",
                len(&l["journalEntries"]["edges"]),
                sum(&l["journalEntries"]["edges"], &|e| len(&e["node"]["followUps"]))
            ));
            parts.push(format!(
                "{} profiling sessions ({} responses)",
                len(&l["profilingSessions"]),
                sum(&l["profilingSessions"], &|s| len(&s["responses"]))
            ));
            parts.push(format!("{} portfolio items", len(&l["portfolio"])));
            parts.push(format!("{} recommendations", len(&l["recipeRecommendations"])));
            parts.push(format!("progress.totalAttempts {}", l["progress"]["totalAttempts"]));
        }
        let linked = sum(&l["attempts"]["edges"], &|e| {
            usize::from(e["node"]["goal"].is_object()) + usize::from(e["node"]["session"].is_object())
        });
        if linked > 0 {
            parts.push(format!("{linked} attempt links (goal or session)"));
        }
        parts.join(", ")
    } else if let Some(nodes) = data["learners"]["nodes"].as_array() {
        let each = |f: &dyn Fn(&Value) -> usize| nodes.iter().map(f).sum::<usize>();
        format!(
            "{} learners, {} goals, {} attempts, {} sessions, {} journal entries",
            nodes.len(),
            each(&|n| len(&n["goals"])),
            each(&|n| len(&n["attempts"]["nodes"])),
            each(&|n| len(&n["sessions"]["nodes"])),
            each(&|n| len(&n["journalEntries"]["nodes"]))
        )
    } else {
        data.to_string()
    };
    Ok(format!("{shape}; response {:.1} KiB", bytes.len() as f64 / 1024.0))
}

/// One line of the results.
struct Row {
    label: &'static str,
    run: Run,
    server_ticks: u64,
    pg_cpu: Option<PgSpent>,
    xact: Option<i64>,
    statements: Statements,
    peak_kib: u64,
}

impl Row {
    fn print(&self, clk_tck: u64) {
        let mut latencies = self.run.latencies.clone();
        latencies.sort();
        let n = latencies.len().max(1) as f64;
        let per_request = |ticks: u64| ticks as f64 * 1_000.0 / clk_tck as f64 / n;
        let pg = match self.pg_cpu {
            Some(spent) => format!("{:.2} | {:.2}", per_request(spent.all), per_request(spent.bench)),
            None => "-".to_owned(),
        };
        let s = &self.statements;
        let alone = if s.fewest == s.most { s.fewest.to_string() } else { format!("{}..{}", s.fewest, s.most) };
        println!(
            "{:<24} {:>8.1} {:>8.2} {:>8.2} {:>10.2} {:>15} {:>17} {:>8} {:>9.1} {:>9} {:>7}",
            self.label,
            latencies.len() as f64 / self.run.elapsed.as_secs_f64(),
            support::ms(support::pct(&latencies, 0.50)),
            support::ms(support::pct(&latencies, 0.99)),
            per_request(self.server_ticks),
            pg,
            format!("{alone} | {:.2}", s.concurrent),
            self.xact.map(|x| format!("{:.2}", x as f64 / n)).unwrap_or_else(|| "-".to_owned()),
            self.peak_kib as f64 / 1024.0,
            latencies.len(),
            self.run.errors
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The raw-SQL floor

/// The rows of the full view (or of the flat view) of `heavy`, with plain statements one after
/// another. Returns (rows, statements).
async fn floor_view(db: &DatabaseConnection, map: &SkillMap, full: bool) -> anyhow::Result<(usize, usize)> {
    let backend = db.get_database_backend();
    let stmt = |sql: &str, values: Vec<sea_orm::Value>| Statement::from_sql_and_values(backend, sql, values);
    let (mut rows, mut statements) = (0, 0);
    let learner = db
        .query_all_raw(stmt("SELECT * FROM learners WHERE external_id = $1", vec!["heavy".into()]))
        .await?
        .into_iter()
        .next()
        .context("no learner heavy")?;
    let id: Uuid = learner.try_get("", "id")?;
    rows += 1;
    statements += 1;
    let mut by_learner = vec![
        "SELECT * FROM learner_progress WHERE learner_id = $1",
        "SELECT * FROM goals WHERE learner_id = $1 ORDER BY created_at, id",
        "SELECT * FROM attempts WHERE learner_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT 51",
        "SELECT * FROM sessions WHERE learner_id = $1 ORDER BY started_at DESC, id DESC LIMIT 21",
    ];
    if full {
        by_learner.extend([
            "SELECT * FROM preferences WHERE learner_id = $1 ORDER BY category",
            "SELECT * FROM interests WHERE learner_id = $1 ORDER BY created_at, name",
            "SELECT * FROM struggles WHERE learner_id = $1 ORDER BY created_at, description",
            "SELECT * FROM cognitive_metrics WHERE learner_id = $1 ORDER BY task_name",
            "SELECT * FROM objective_progress WHERE learner_id = $1 ORDER BY created_at, objective_id",
            "SELECT * FROM badges WHERE learner_id = $1 ORDER BY earned_at, badge_id",
            "SELECT * FROM portfolio_items WHERE learner_id = $1 ORDER BY created_at, id",
            "SELECT (SELECT COUNT(*) FROM sessions WHERE learner_id = $1 AND kind = 'CHAT') AS chat_sessions, \
             (SELECT COUNT(*) FROM sessions WHERE learner_id = $1 AND kind = 'MEDITATION') AS meditation_sessions, \
             (SELECT COUNT(*) FROM chat_messages WHERE learner_id = $1) AS chat_messages, \
             (SELECT COUNT(*) FROM journal_entries WHERE learner_id = $1) AS journal_entries, \
             (SELECT COALESCE(SUM(duration_minutes), 0) FROM meditation_reflections WHERE learner_id = $1) AS minutes, \
             (SELECT MAX(started_at) FROM sessions WHERE learner_id = $1 AND kind IN ('CHAT', 'MEDITATION')) AS s_at, \
             (SELECT MAX(created_at) FROM chat_messages WHERE learner_id = $1) AS m_at, \
             (SELECT MAX(created_at) FROM journal_entries WHERE learner_id = $1) AS j_at, \
             (SELECT MAX(created_at) FROM meditation_reflections WHERE learner_id = $1) AS r_at",
        ]);
    }
    for sql in by_learner {
        rows += db.query_all_raw(stmt(sql, vec![id.into()])).await?.len();
        statements += 1;
    }
    if !full {
        return Ok((rows, statements));
    }
    let today = Utc::now().date_naive();
    let days = db
        .query_all_raw(stmt(
            "SELECT * FROM practice_days WHERE learner_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day",
            vec![id.into(), (today - TimeDelta::days(13)).into(), today.into()],
        ))
        .await?;
    rows += days.len();
    statements += 1;
    for (list, limit, child) in [
        (
            "SELECT * FROM journal_entries WHERE learner_id = $1 ORDER BY created_at DESC, id DESC LIMIT 21",
            20,
            "SELECT * FROM journal_follow_ups WHERE learner_id = $1 AND entry_id IN ({ids}) \
             ORDER BY entry_id, created_at, id",
        ),
        (
            "SELECT * FROM profiling_sessions WHERE learner_id = $1 ORDER BY started_at DESC, id DESC LIMIT 10",
            10,
            "SELECT * FROM profiling_responses WHERE learner_id = $1 AND session_id IN ({ids}) \
             ORDER BY session_id, answered_at, question_id",
        ),
    ] {
        // A list, then the children of its first rows.
        let parents = db.query_all_raw(stmt(list, vec![id.into()])).await?;
        rows += parents.len();
        statements += 1;
        let mut values: Vec<sea_orm::Value> = vec![id.into()];
        for p in parents.iter().take(limit) {
            values.push(p.try_get::<Uuid>("", "id")?.into());
        }
        if values.len() > 1 {
            let placeholders: Vec<String> = (2..=values.len()).map(|n| format!("${n}")).collect();
            let sql = child.replace("{ids}", &placeholders.join(", "));
            rows += db.query_all_raw(stmt(&sql, values)).await?.len();
            statements += 1;
        }
    }
    // The outcome, then the recipes teaching its gap skills.
    let outcome =
        db.query_all_raw(stmt("SELECT * FROM profiling_outcomes WHERE learner_id = $1", vec![id.into()])).await?;
    statements += 1;
    if let Some(o) = outcome.first() {
        rows += 1;
        let track: String = o.try_get("", "track_key")?;
        let weak: Value = o.try_get("", "weak_modules")?;
        let weak: Vec<String> = weak
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["module"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let codes: Vec<String> = rules::gaps(map, &track, &weak).into_iter().map(|g| g.skill).collect();
        if !codes.is_empty() {
            let placeholders: Vec<String> = (2..=codes.len() + 1).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT * FROM recipes WHERE is_active = $1 AND id IN (SELECT recipe_id FROM recipe_skills \
                 WHERE skill_code IN ({})) ORDER BY usage_count DESC, avg_rating DESC, slug LIMIT 5",
                placeholders.join(", ")
            );
            let mut values: Vec<sea_orm::Value> = vec![true.into()];
            values.extend(codes.into_iter().map(Into::into));
            rows += db.query_all_raw(stmt(&sql, values)).await?.len();
            statements += 1;
        }
    }
    Ok((rows, statements))
}
