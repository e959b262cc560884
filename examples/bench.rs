//! Load benchmark: seeds learners and records attempts through the real HTTP endpoint, then
//! compares the cost of reading `streak` and `progress` for a light and a heavy learner.
//!
//! `cargo run --release --example bench -- --help`

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::{Server, build_state};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Learners to seed.
    #[arg(long, default_value_t = 1_000)]
    learners: usize,
    /// Attempts to record, spread over the learners.
    #[arg(long, default_value_t = 100_000)]
    attempts: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Attempts of the heavy learner in the read-cost comparison.
    #[arg(long, default_value_t = 100_000)]
    heavy_attempts: usize,
    /// Run on a fresh database created on this PostgreSQL server (dropped afterwards) instead of
    /// a temporary SQLite file.
    #[arg(long)]
    postgres: Option<String>,
}

const RECORD: &str = "mutation($l: ID!, $e: String!, $ok: Boolean!, $at: DateTime) {
  recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: $ok, occurredAt: $at }) { attempt { id } streak { current } }
}";
const READ: &str = "query($l: ID!) { learner(id: $l) {
  streak { current longest lastPracticeDate }
  progress { totalAttempts correctAttempts accuracy exercisesAttempted byDay(last: 30) { date attempts correct }
             byExercise(first: 20) { exerciseId attempts correct lastAttemptAt } } } }";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "bench").await?;
    let url = database.url.clone();
    let engine = database.engine();
    let mut config = Config::for_database(&url);
    config.listen = "127.0.0.1:0".parse()?;
    config.max_complexity = 100_000;
    let state = build_state(config, Clock::System).await?;
    let server = Server::bind(state.clone()).await?;
    let endpoint = format!("http://{}/graphql", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        stopped.await.ok();
    }));
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(args.concurrency).build()?;

    println!(
        "learngraph bench on {engine}: {} learners, {} attempts, concurrency {}",
        args.learners, args.attempts, args.concurrency
    );

    let ids = seed_learners(&client, &endpoint, args.learners, args.concurrency).await?;
    let now = chrono::Utc::now();
    let jobs: Vec<(String, String, bool, String)> = (0..args.attempts)
        .map(|i| {
            let r = support::mix(i as u64);
            let at = now - chrono::TimeDelta::minutes((r % (60 * 24 * 60)) as i64);
            (ids[i % ids.len()].clone(), format!("ex-{}", r % 50), !r.is_multiple_of(3), at.to_rfc3339())
        })
        .collect();
    let (elapsed, mut latencies) = run(&client, &endpoint, jobs, args.concurrency).await?;
    latencies.sort();
    println!(
        "recordAttempt: {} in {:.1}s = {:.0} attempts/s; latency p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        support::ms(support::pct(&latencies, 0.50)),
        support::ms(support::pct(&latencies, 0.99)),
    );

    // Read cost: a learner with 10 attempts against one with `heavy_attempts`.
    let light = ensure(&client, &endpoint, "bench-light").await?;
    let heavy = ensure(&client, &endpoint, "bench-heavy").await?;
    let mk = |l: &str, n: usize| -> Vec<(String, String, bool, String)> {
        (0..n)
            .map(|i| {
                let r = support::mix(i as u64 + 7);
                let at = now - chrono::TimeDelta::minutes((r % (60 * 24 * 365)) as i64);
                (l.to_owned(), format!("ex-{}", r % 200), !r.is_multiple_of(4), at.to_rfc3339())
            })
            .collect()
    };
    run(&client, &endpoint, mk(&light, 10), args.concurrency).await?;
    let (heavy_elapsed, _) = run(&client, &endpoint, mk(&heavy, args.heavy_attempts), args.concurrency).await?;
    println!(
        "heavy learner seeded: {} attempts in {:.1}s ({:.0}/s, one learner's writes are serialized)",
        args.heavy_attempts,
        heavy_elapsed.as_secs_f64(),
        args.heavy_attempts as f64 / heavy_elapsed.as_secs_f64()
    );
    for (name, id) in [("10 attempts", &light), (&*format!("{} attempts", args.heavy_attempts), &heavy)] {
        let mut times = vec![];
        let mut total = Value::Null;
        for _ in 0..300 {
            let t = Instant::now();
            let body = post(&client, &endpoint, READ, json!({ "l": id })).await?;
            times.push(t.elapsed());
            total = body["data"]["learner"]["progress"]["totalAttempts"].clone();
        }
        times.sort();
        println!(
            "read streak+progress, learner with {name}: p50 {:.2} ms, p99 {:.2} ms (totalAttempts = {total})",
            support::ms(support::pct(&times, 0.50)),
            support::ms(support::pct(&times, 0.99))
        );
    }
    println!("peak RSS (server and load generator, one process): {} MiB", support::peak_rss_kib() / 1024);

    stop.send(()).ok();
    serving.await.ok();
    state.db.close().await.ok();
    database.drop().await?;
    Ok(())
}

async fn post(client: &reqwest::Client, endpoint: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
    let body: Value =
        client.post(endpoint).json(&json!({ "query": query, "variables": variables })).send().await?.json().await?;
    if let Some(errors) = body.get("errors") {
        anyhow::bail!("request failed: {errors}");
    }
    Ok(body)
}

async fn ensure(client: &reqwest::Client, endpoint: &str, ext: &str) -> anyhow::Result<String> {
    let q = "mutation($e: String!) { ensureLearner(input: { externalId: $e }) { learner { id } } }";
    let body = post(client, endpoint, q, json!({ "e": ext })).await?;
    body["data"]["ensureLearner"]["learner"]["id"].as_str().map(str::to_owned).context("learner id")
}

async fn seed_learners(
    client: &reqwest::Client,
    endpoint: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let t = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = vec![];
    for _ in 0..concurrency {
        let (client, endpoint, next) = (client.clone(), endpoint.to_owned(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = vec![];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(out);
                }
                out.push((i, ensure(&client, &endpoint, &format!("bench-{i}")).await?));
            }
        }));
    }
    let mut ids = vec![String::new(); n];
    for w in workers {
        for (i, id) in w.await?? {
            ids[i] = id;
        }
    }
    println!("seeded {n} learners in {:.1}s", t.elapsed().as_secs_f64());
    Ok(ids)
}

/// Sends every job with `concurrency` requests in flight; returns the wall time and latencies.
async fn run(
    client: &reqwest::Client,
    endpoint: &str,
    jobs: Vec<(String, String, bool, String)>,
    concurrency: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = vec![];
    for _ in 0..concurrency {
        let (client, endpoint, jobs, next) = (client.clone(), endpoint.to_owned(), jobs.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = vec![];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((l, e, ok, at)) = jobs.get(i) else { return anyhow::Ok(latencies) };
                let t = Instant::now();
                post(&client, &endpoint, RECORD, json!({ "l": l, "e": e, "ok": ok, "at": at })).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut all = vec![];
    for w in workers {
        all.extend(w.await??);
    }
    Ok((start.elapsed(), all))
}
