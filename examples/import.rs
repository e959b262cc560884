//! Import rate: the progress SQL tables of 10,000 users with 50 attempts each (500,000 attempts),
//! one session and one stored streak each, in a SQLite file, imported with `learngraph import
//! progress-db` into SQLite or PostgreSQL, then imported again (everything already present).
//!
//! ```sh
//! cargo run --release --example import
//! cargo run --release --example import -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use clap::Parser;
use learngraph::build_state;
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::import::sources::Source;
use learngraph::import::{Options, run};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 50)]
    attempts: usize,
    /// Admin URL of a PostgreSQL server for the destination (a database is created and dropped);
    /// SQLite otherwise.
    #[arg(long)]
    postgres: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let source_path = std::env::temp_dir().join(format!("learngraph-progress-{}.db", uuid::Uuid::new_v4().simple()));
    let source = format!("sqlite://{}?mode=rwc", source_path.display());
    let seeded = Instant::now();
    write_source(&source, args.users, args.attempts).await?;
    eprintln!(
        "source written: {} users, {} attempts in {:.1} s",
        args.users,
        args.users * args.attempts,
        seeded.elapsed().as_secs_f64()
    );

    let database = support::BenchDatabase::create(args.postgres.as_deref(), "import").await?;
    let state = build_state(Config::for_database(&database.url), Clock::System).await?;
    let options = Options { dry_run: false, strict: false, merge_prefixed_ids: true };
    let total = (args.users * args.attempts) as f64;
    for pass in ["first import", "second import (all present)"] {
        let started = Instant::now();
        let report = run(&state, Source::ProgressDb, &source, options).await?;
        let secs = started.elapsed().as_secs_f64();
        let attempts = report.tables.get("attempts").copied().unwrap_or_default();
        println!(
            "progress-db (SQLite) → {}: {pass}: {:.1} s, {:.0} attempts/s (imported {}, present {}, skipped {}); peak RSS {} MiB",
            database.engine(),
            secs,
            total / secs,
            attempts.imported,
            attempts.present,
            attempts.skipped,
            support::peak_rss_kib() / 1024
        );
    }
    state.db.clone().close().await.ok();
    database.drop().await?;
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{suffix}", source_path.display())).ok();
    }
    Ok(())
}

/// The tables as SQLAlchemy made them, filled in batches.
async fn write_source(url: &str, users: usize, attempts: usize) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    for sql in [
        "CREATE TABLE attempts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, exercise_id VARCHAR(100), is_correct BOOLEAN, user_answer TEXT, created_at TIMESTAMP)",
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, started_at TIMESTAMP, ended_at TIMESTAMP, total_exercises INTEGER, correct_answers INTEGER)",
        "CREATE TABLE user_profiles (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, current_streak INTEGER, longest_streak INTEGER, last_practice_date DATE)",
    ] {
        db.execute_unprepared(sql).await?;
    }
    let txn = db.begin().await?;
    let mut id = 0;
    for user in 0..users {
        let rows: Vec<String> = (0..attempts)
            .map(|i| {
                id += 1;
                let day = 1 + (user + i / 5) % 28;
                format!(
                    "({id}, {user}, 'ex-{}', {}, 'a{i}', '2024-02-{day:02} 10:{:02}:00')",
                    i % 12,
                    (user + i) % 3 != 0,
                    i % 60
                )
            })
            .collect();
        txn.execute_unprepared(&format!("INSERT INTO attempts VALUES {}", rows.join(", "))).await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO sessions VALUES ({user}, {user}, '2024-02-01 09:00:00', '2024-02-01 09:30:00', 5, 3); \
             INSERT INTO user_profiles VALUES ({user}, {user}, 3, 5, '2024-02-28')"
        ))
        .await?;
    }
    txn.commit().await?;
    db.close().await?;
    Ok(())
}
