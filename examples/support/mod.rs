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
