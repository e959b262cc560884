//! Similarity search benchmark: one learner with many embedded journal entries, then timed
//! `similarJournalEntries` requests through the real HTTP endpoint, one at a time.
//!
//! `cargo run --release --example similarity -- --help`

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::domain::embedding::Unit;
use learngraph::{Server, build_state};
use sea_orm::{EntityTrait, Set};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Journal entries of the learner.
    #[arg(long, default_value_t = 10_000)]
    entries: usize,
    /// Embedding dimension.
    #[arg(long, default_value_t = 1_536)]
    dimension: usize,
    /// Timed searches.
    #[arg(long, default_value_t = 200)]
    searches: usize,
    /// Run on a fresh database created on this PostgreSQL server (dropped afterwards) instead of
    /// a temporary SQLite file.
    #[arg(long)]
    postgres: Option<String>,
}

/// A deterministic pseudo-random vector (xorshift), so runs are comparable.
fn vector(seed: u64, dimension: usize) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dimension)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2_000) as f64 / 1_000.0 - 1.0
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "similarity").await?;
    let url = database.url.clone();
    let engine = database.engine();
    let mut config = Config::for_database(&url);
    config.listen = "127.0.0.1:0".parse()?;
    config.max_body_bytes = 4 << 20;
    let state = build_state(config, Clock::System).await?;
    let server = Server::bind(state.clone()).await?;
    let endpoint = format!("http://{}/graphql", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        stopped.await.ok();
    }));
    let client = reqwest::Client::builder().no_proxy().build()?;

    // Seed through SQL in bulk (the API path is tested elsewhere): the learner, its corpus row and
    // the entries, with embeddings stored exactly as the API stores them.
    let seeded = Instant::now();
    let made: serde_json::Value = client
        .post(&endpoint)
        .json(&json!({ "query": "mutation { ensureLearner(input: { externalId: \"similar\" }) { learner { id } } }" }))
        .send()
        .await?
        .json()
        .await?;
    let learner_gid = made["data"]["ensureLearner"]["learner"]["id"].as_str().context("learner id")?.to_owned();
    let learner = entity::learner::Entity::find().one(&state.db).await?.context("the learner")?.id;
    entity::journal_corpus::Entity::insert(entity::journal_corpus::ActiveModel {
        learner_id: Set(learner),
        dimension: Set(i32::try_from(args.dimension)?),
        version: Set(1),
    })
    .exec_without_returning(&state.db)
    .await?;
    let now = chrono::Utc::now();
    for chunk in (0..args.entries).collect::<Vec<_>>().chunks(500) {
        let rows = chunk.iter().map(|i| entity::journal_entry::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            learner_id: Set(learner),
            content: Set(format!("entry {i}")),
            mood_tags: Set(json!([])),
            source: Set(entity::journal_entry::JournalSource::Manual),
            embedding: Set(Unit::new(&vector(*i as u64 + 1, args.dimension)).ok().map(|u| u.to_bytes())),
            created_at: Set(now),
            updated_at: Set(now),
            idempotency_key: Set(None),
        });
        entity::journal_entry::Entity::insert_many(rows).exec_without_returning(&state.db).await?;
    }
    println!(
        "similarity bench on {engine}: {} entries of {} dimensions seeded in {:.1} s",
        args.entries,
        args.dimension,
        seeded.elapsed().as_secs_f64()
    );

    let query = "query($l: ID!, $e: [Float!]!) { learner(id: $l) { similarJournalEntries(embedding: $e, first: 10) { score entry { id content } } } }";
    let mut times = Vec::with_capacity(args.searches);
    // The first search reads the vectors and fills this replica's cache; it is timed apart.
    let mut first = None;
    for i in 0..args.searches + 5 {
        let body = json!({ "query": query, "variables": { "l": learner_gid, "e": vector(1_000_000 + i as u64, args.dimension) } });
        let started = Instant::now();
        let response: serde_json::Value = client.post(&endpoint).json(&body).send().await?.json().await?;
        let took = started.elapsed();
        let matches = response["data"]["learner"]["similarJournalEntries"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(matches == 10.min(args.entries), "search {i} answered {response}");
        if i == 0 {
            first = Some(took);
        }
        if i >= 5 {
            times.push(took);
        }
    }
    times.sort();
    println!(
        "  first search (reads the vectors into the cache): {:.1} ms",
        first.unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  one search (top 10), {} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.searches,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );

    stop.send(()).ok();
    serving.await.ok();
    state.db.close().await.ok();
    database.drop().await?;
    Ok(())
}
