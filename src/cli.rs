//! What the `export` and `retention` commands and the scheduled sweep do, beside the server.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::graphql::AppState;
use crate::graphql::ids::{self, Kind};
use crate::store;
use crate::store::audit::{Access, Actor};
use crate::store::retention::{self, Policy};

/// Exports the learner named by externalId, global id or UUID to `out`, and records the export in
/// its access log (actor `cli`).
pub async fn export<W: Write>(state: &AppState, name: &str, out: W) -> anyhow::Result<store::export::Written> {
    let db = &state.db;
    let mut found = learner::Entity::find().filter(learner::Column::ExternalId.eq(name)).one(db).await?;
    if found.is_none() {
        let id = Uuid::parse_str(name).ok().or_else(|| ids::decode("learner", &name.into(), Kind::Learner).ok());
        if let Some(id) = id {
            found = learner::Entity::find_by_id(id).one(db).await?;
        }
    }
    let learner = found.with_context(|| format!("no learner with externalId, id or UUID `{name}`"))?;
    let now = state.clock.now();
    let mut out = Output { inner: out, failed: None };
    let written = store::export::write(db, learner.id, now, &mut out).await.map_err(|e| match out.failed.take() {
        // The output's own failure (a full disk, a closed pipe) says more than INTERNAL.
        Some(io) => anyhow::anyhow!("writing the export failed: {io}"),
        None => anyhow::anyhow!("export failed: {}", e.message()),
    })?;
    let access = Access { learner_id: learner.id, write: false, fields: vec!["export".to_owned()] };
    store::audit::record(db, &Actor::system("cli"), Some("learngraph export"), &[access], now)
        .await
        .map_err(|e| anyhow::anyhow!("recording the export in the access log failed: {}", e.message()))?;
    Ok(written)
}

/// The export's output, remembering how it failed.
struct Output<W> {
    inner: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.failed = Some(std::io::Error::new(e.kind(), e.to_string())))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| self.failed = Some(std::io::Error::new(e.kind(), e.to_string())))
    }
}

/// The scheduled retention sweep: every `secs` seconds, for as long as the server runs. A failed
/// sweep is logged and tried again at the next interval; clients never see it.
pub async fn sweep_every(state: AppState, secs: u64) {
    let policy = Policy::from_config(&state.config);
    if policy.is_off() {
        tracing::warn!("LEARNGRAPH_RETENTION_INTERVAL_SECS is set but no retention rule is: nothing to sweep");
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match retention::sweep(&state.db, &state.write_gate, &policy, state.clock.now(), false).await {
            Ok(report) => tracing::info!(
                rows = report.rows(),
                ms = started.elapsed().as_millis() as u64,
                report = %report.lines.iter().map(|l| format!("{}/{}={}", l.rule, l.table, l.rows)).collect::<Vec<_>>().join(" "),
                "retention sweep"
            ),
            Err(e) => tracing::error!(error = e.message(), "retention sweep failed; retrying at the next interval"),
        }
    }
}
