//! learngraph: one durable, typed, transactional store of learner data, served over GraphQL.
//!
//! The binary (`main.rs`) only parses the command line; everything else lives here so that tests
//! and tools drive the same router and schema as production.

/// mimalloc rather than the system allocator: resolving a view allocates and frees many small
/// values from several threads at once, and glibc's malloc spent a quarter of the CPU of a
/// FullLearnerView there, partly waiting on its arena locks (README, "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod import;
pub mod json;
pub mod live;
pub mod reader;
pub mod store;
pub mod trusted;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::graphql::AppState;

/// Connects to the configured database and migrates it.
pub async fn build_state(config: Config, clock: Clock) -> anyhow::Result<AppState> {
    // The bank first: a broken one stops the server before it touches the database.
    let profiling = store::profiling::Catalog::load(config.profiling_bank.as_deref())?;
    let trusted = match &config.trusted_documents {
        Some(path) => {
            let trusted = trusted::TrustedDocuments::load(path, config.trusted_documents_for)?;
            tracing::info!(documents = trusted.len(), manifest = %path.display(), "trusted documents loaded");
            Some(std::sync::Arc::new(trusted))
        }
        None => None,
    };
    let (db, statements) = db::connect_counted(&config).await?;
    db::migrate(&db).await?;
    profiling.prepare(&db, clock.now()).await?;
    let mut state = AppState::new(db, statements, config, clock, profiling);
    state.trusted = trusted;
    Ok(state)
}

/// A server bound to its address, ready to run.
pub struct Server {
    pub addr: SocketAddr,
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds the configured address (port 0 picks a free one).
    pub async fn bind(state: AppState) -> anyhow::Result<Self> {
        let listen = state.config.listen;
        if state.auth.is_open() && !listen.ip().is_loopback() && !state.config.allow_open {
            anyhow::bail!(
                "refusing to listen on {listen} without LEARNGRAPH_JWT_SECRET: anyone could read and \
                 write every learner. Set a secret, listen on 127.0.0.1, or pass --allow-open"
            );
        }
        let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        Ok(Server { addr, listener, state })
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let sweeper = self
            .state
            .config
            .retention_interval_secs
            .map(|secs| tokio::spawn(cli::sweep_every(self.state.clone(), secs)));
        let live = self.state.live.clone();
        let db = self.state.db.clone();
        let grace = std::time::Duration::from_secs(self.state.config.shutdown_grace_secs);
        let signalled = Arc::new(tokio::sync::Notify::new());
        let stop = {
            let (live, signalled) = (live.clone(), signalled.clone());
            async move {
                shutdown.await;
                tracing::info!(
                    grace_secs = grace.as_secs(),
                    "shutting down: no new connections; finishing in-flight requests"
                );
                // WebSockets are detached from the HTTP server: tell them to close as it stops.
                live.begin_shutdown();
                signalled.notify_one();
            }
        };
        let serve = axum::serve(self.listener, http::router(self.state)).with_graceful_shutdown(stop).into_future();
        // In-flight requests get `grace` after the signal; what still runs then is dropped.
        let served = tokio::select! {
            served = serve => served,
            () = async {
                signalled.notified().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the shutdown grace were dropped");
                Ok(())
            }
        };
        live.shut_down(grace).await;
        // Bounded: another process holding SQLite's write lock must not keep this one alive.
        match tokio::time::timeout(std::time::Duration::from_secs(2), db::checkpoint(&db)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "checkpointing the SQLite log at shutdown failed"),
            Err(_) => {
                tracing::warn!("checkpointing the SQLite log at shutdown timed out; the log is replayed on start")
            }
        }
        if let Some(task) = sweeper {
            task.abort();
        }
        served?;
        Ok(())
    }
}
