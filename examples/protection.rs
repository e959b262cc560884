//! Data-protection figures: `learngraph export` of a learner with 100,000 attempts (time, bytes and
//! the command's peak RSS), and the retention sweep's rate.
//!
//! ```sh
//! cargo build --release && cargo run --release --example protection
//! cargo build --release && cargo run --release --example protection -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! Seeding goes through SQL in bulk (attempts in chunks, then the derived counters rebuilt by the
//! same code retention uses); export and retention then run as in production: the export as the
//! release binary, under `/usr/bin/time`, the sweep in this process.

#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use clap::Parser;
use entity::attempt;
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::store::retention::{self, Policy};
use learngraph::{build_state, store};
use sea_orm::prelude::Uuid;
use sea_orm::{EntityTrait, Set, TransactionTrait};

#[derive(Parser)]
struct Args {
    /// Attempts of the exported learner.
    #[arg(long, default_value_t = 100_000)]
    attempts: usize,
    /// Learners for the retention sweep, each with `--sweep-attempts` attempts, half of them old.
    #[arg(long, default_value_t = 1_000)]
    learners: usize,
    #[arg(long, default_value_t = 100)]
    sweep_attempts: usize,
    /// Admin URL of a PostgreSQL server (a database is created and dropped); SQLite otherwise.
    #[arg(long)]
    postgres: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "protection").await?;
    let engine = database.engine();
    let state = build_state(Config::for_database(&database.url), Clock::System).await?;
    let now = Utc::now();

    let seeded = Instant::now();
    let heavy = learner(&state, "heavy").await?;
    insert_attempts(&state, heavy, args.attempts, now, 400).await?;
    let mut sweep_learners = Vec::new();
    for i in 0..args.learners {
        let id = learner(&state, &format!("sweep-{i:05}")).await?;
        insert_attempts(&state, id, args.sweep_attempts, now, 360).await?;
        sweep_learners.push(id);
    }
    println!(
        "{engine}: seeded {} + {} × {} attempts in {:.1} s",
        args.attempts,
        args.learners,
        args.sweep_attempts,
        seeded.elapsed().as_secs_f64()
    );

    // The export, as an operator runs it: the release binary, its peak RSS measured by time(1).
    let binary = std::env::current_exe()?
        .parent()
        .and_then(|examples| examples.parent())
        .map(|release| release.join("learngraph"))
        .filter(|p| p.exists());
    match binary {
        Some(binary) => {
            let out = std::env::temp_dir().join(format!("learngraph-export-{}.json", Uuid::new_v4().simple()));
            let started = Instant::now();
            let run = Command::new("/usr/bin/time")
                .args(["-f", "peak_rss_kib=%M"])
                .arg(&binary)
                .args(["export", "--learner", "heavy", "--out"])
                .arg(&out)
                .args(["--database-url", &database.url])
                .output()?;
            let elapsed = started.elapsed();
            let stderr = String::from_utf8_lossy(&run.stderr);
            anyhow::ensure!(run.status.success(), "export failed: {stderr}");
            let rss = stderr.lines().find_map(|l| l.strip_prefix("peak_rss_kib=")).unwrap_or("?");
            let bytes = std::fs::metadata(&out)?.len();
            std::fs::remove_file(&out).ok();
            println!(
                "{engine}: learngraph export of {} attempts: {:.2} s, {:.1} MB, peak RSS {} MiB",
                args.attempts,
                elapsed.as_secs_f64(),
                bytes as f64 / 1e6,
                rss.parse::<u64>().map(|k| (k / 1024).to_string()).unwrap_or_else(|_| rss.to_owned())
            );
        }
        None => println!("(no target/release/learngraph: run `cargo build --release` for the export figures)"),
    }
    let started = Instant::now();
    let written = store::export::write(&state.db, heavy, now, std::io::sink())
        .await
        .map_err(|e| anyhow::anyhow!("export: {}", e.message()))?;
    println!(
        "{engine}: in-process export to a sink: {} rows in {:.2} s ({:.0} rows/s)",
        written.rows,
        started.elapsed().as_secs_f64(),
        written.rows as f64 / started.elapsed().as_secs_f64()
    );

    // Retention: attempts older than 180 days, learner by learner, batches of the default size.
    let policy = Policy { practice_days: Some(180), ..Policy::from_config(&state.config) };
    let started = Instant::now();
    let dry = retention::sweep(&state.db, &state.write_gate, &policy, now, true)
        .await
        .map_err(|e| anyhow::anyhow!("dry run: {}", e.message()))?;
    println!("{engine}: retention dry run in {:.2} s:\n{dry}", started.elapsed().as_secs_f64());
    let statements = state.statements.get();
    let started = Instant::now();
    let run = retention::sweep(&state.db, &state.write_gate, &policy, now, false)
        .await
        .map_err(|e| anyhow::anyhow!("sweep: {}", e.message()))?;
    let secs = started.elapsed().as_secs_f64();
    let learners = run.lines.iter().map(|l| l.learners).max().unwrap_or(0);
    println!(
        "{engine}: retention sweep deleted {} rows of {} learners in {:.2} s ({:.0} rows/s, batches of {}, {} SQL statements)",
        run.rows(),
        learners,
        secs,
        run.rows() as f64 / secs,
        policy.batch,
        state.statements.get() - statements
    );
    anyhow::ensure!(run.lines == dry.lines, "the sweep deleted what the dry run counted");

    state.db.clone().close().await?;
    database.drop().await
}

async fn learner(state: &learngraph::graphql::AppState, external_id: &str) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    entity::learner::Entity::insert(entity::learner::ActiveModel {
        id: Set(id),
        external_id: Set(external_id.to_owned()),
        display_name: Set(None),
        search_text: Set(store::learner::search_text(external_id, None)),
        bio: Set(None),
        time_zone: Set("UTC".to_owned()),
        settings: Set(serde_json::json!({})),
        created_at: Set(Utc::now() - TimeDelta::days(500)),
        updated_at: Set(Utc::now() - TimeDelta::days(500)),
    })
    .exec_without_returning(&state.db)
    .await?;
    Ok(id)
}

/// `n` attempts spread evenly over the last `days` days, then the derived counters.
async fn insert_attempts(
    state: &learngraph::graphql::AppState,
    learner: Uuid,
    n: usize,
    now: chrono::DateTime<Utc>,
    days: i64,
) -> anyhow::Result<()> {
    let txn = state.db.begin().await?;
    let span = TimeDelta::days(days).num_seconds();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let rows = chunk.iter().map(|i| {
            let at = now - TimeDelta::seconds(span * (*i as i64 + 1) / n as i64);
            attempt::ActiveModel {
                id: Set(Uuid::now_v7()),
                learner_id: Set(learner),
                session_id: Set(None),
                goal_id: Set(None),
                exercise_id: Set(format!("ex-{}", i % 200)),
                activity_type: Set(Some("quiz".to_owned())),
                objective_id: Set(None),
                is_correct: Set(i % 3 != 0),
                score: Set(Some(0.5)),
                user_answer: Set(Some("42".to_owned())),
                response_time_ms: Set(Some(1_500)),
                details: Set(None),
                occurred_at: Set(at),
                local_date: Set(at.date_naive()),
                created_at: Set(at),
                idempotency_key: Set(None),
                completed: Set(Some(true)),
            }
        });
        attempt::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    store::practice::rebuild(&txn, learner).await.map_err(|e| anyhow::anyhow!("rebuild: {}", e.message()))?;
    txn.commit().await?;
    Ok(())
}
