//! What the benchmarks share: a fresh database of their own, dropped afterwards.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

/// A fresh database: on the given PostgreSQL server (created now), or a temporary SQLite file.
pub struct BenchDatabase {
    pub url: String,
    /// (admin URL, database name) of a PostgreSQL database to drop afterwards.
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    pub async fn create(postgres: Option<&str>, prefix: &str) -> anyhow::Result<Self> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match postgres {
            Some(admin) => {
                let name = format!("lg_bench_{unique}");
                let conn = Database::connect(admin).await.context("connecting to PostgreSQL")?;
                conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).context("URL with a database")?;
                Ok(BenchDatabase { url: format!("{base}/{name}"), postgres: Some((admin.to_owned(), name)) })
            }
            None => {
                let path = std::env::temp_dir().join(format!("learngraph-{prefix}-{unique}.sqlite"));
                Ok(BenchDatabase { url: format!("sqlite://{}?mode=rwc", path.display()), postgres: None })
            }
        }
    }

    pub fn engine(&self) -> &'static str {
        if self.postgres.is_some() { "PostgreSQL" } else { "SQLite" }
    }

    /// Drops the database (after the server has closed its connections).
    pub async fn drop(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            let conn = Database::connect(&admin).await?;
            conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        } else if let Some(path) = self.url.strip_prefix("sqlite://").and_then(|p| p.split('?').next()) {
            for suffix in ["", "-wal", "-shm"] {
                std::fs::remove_file(format!("{path}{suffix}")).ok();
            }
        }
        Ok(())
    }
}

/// Peak resident set size of this process (VmHWM), in KiB.
#[allow(dead_code)] // not every benchmark prints it
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A cheap deterministic mixer, so runs are repeatable.
#[allow(dead_code)]
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D049BB133111EB);
    x ^ (x >> 31)
}

/// The `p` quantile (0..=1) of sorted latencies.
#[allow(dead_code)]
pub fn pct(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[allow(dead_code)]
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `sysconf(_SC_CLK_TCK)`, through getconf (100 on Linux).
#[allow(dead_code)]
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// utime + stime of a process (`self` for this one), in clock ticks.
#[allow(dead_code)]
pub fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ": field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
