//! Settings from command-line flags and `LEARNGRAPH_*` environment variables.
//!
//! The README's configuration table lists every field here; a test checks that it does.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// learngraph: the durable source of truth for a learning platform's learner data, over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "learngraph", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve GraphQL over HTTP (the default).
    Serve,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Write everything stored about one learner as one JSON document (streamed: any size in
    /// bounded memory). The export is recorded in the learner's access log.
    Export {
        /// The learner: its externalId, its global id, or its UUID.
        #[arg(long)]
        learner: String,
        /// The file to write; standard output when left out.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Apply the retention settings (`LEARNGRAPH_*_RETENTION_DAYS`) now and print what was deleted
    /// per rule and table.
    Retention {
        /// Count what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the SQLite database, consistently and while the server runs, into one file
    /// (`VACUUM INTO`). For PostgreSQL, use `pg_dump` (see the README).
    Backup {
        /// The file to create (it must not exist).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Build a trusted documents manifest (`LEARNGRAPH_TRUSTED_DOCUMENTS`) from `.graphql` files:
    /// one document per operation with the fragments it uses, keyed by the SHA-256 of its text.
    Trust {
        /// The `.graphql` files holding the operations clients send.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// The file to write; standard output when left out.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Import learners' history from a store learngraph replaces (see the README, "Moving from an
    /// existing store"). One transaction per learner; running it again imports nothing twice.
    /// Exit code 0: everything imported or already present; 2: some rows skipped (listed);
    /// 1: failed (with --strict, nothing was written).
    Import {
        /// What the source is.
        #[arg(value_enum)]
        source: crate::import::sources::Source,
        /// Its directory, file or database URL.
        location: String,
        /// Read and check everything and report what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Stop at the first malformed file, row or value, and write nothing.
        #[arg(long)]
        strict: bool,
        /// Keep `user_7` and `7` apart (by default they are one learner, `7`).
        #[arg(long)]
        keep_user_ids: bool,
    },
    /// Mint a bearer token signed with the configured secret.
    Token {
        /// The learner's externalId (for role `learner`) or a name for staff and services.
        #[arg(long)]
        sub: String,
        /// What the token may do.
        #[arg(long, value_enum, default_value_t = Role::Learner)]
        role: Role,
        /// Lifetime of the token in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: u64,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the last applied migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations from scratch (erases all data).
    Fresh,
}

/// Whom `LEARNGRAPH_TRUSTED_DOCUMENTS` binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrustedFor {
    /// Learner tokens and anonymous requests; staff and services may run any document.
    Learners,
    /// Every request.
    Everyone,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and writes only its own learner (`sub` = the learner's externalId).
    Learner,
    /// Reads and writes all learners; may list learners.
    Staff,
    /// An AI or data service: reads and writes all learners.
    Service,
}

/// Server settings. Every field can be given as a flag or as the environment variable named.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    #[arg(long, global = true, env = "LEARNGRAPH_DATABASE_URL", default_value = "sqlite://learngraph.sqlite?mode=rwc")]
    pub database_url: String,

    /// Address to listen on. Port 0 picks a free port (the chosen address is logged).
    #[arg(long, global = true, env = "LEARNGRAPH_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// HS256 secret for bearer tokens. Without it the server runs in open development mode:
    /// every request may read and write everything.
    #[arg(long, global = true, env = "LEARNGRAPH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Allow open development mode (no secret) on a non-loopback address.
    #[arg(long, global = true, env = "LEARNGRAPH_ALLOW_OPEN", default_value_t = false)]
    pub allow_open: bool,

    /// Origins a browser may call the API from (comma-separated, e.g.
    /// `http://localhost:5173,https://app.example.org`; `*` for any). Unset: none.
    #[arg(long, global = true, env = "LEARNGRAPH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Largest accepted JSON value (goal profile, event payload, details), in bytes once serialized.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_JSON_BYTES", default_value_t = 65_536)]
    pub max_json_bytes: usize,

    /// Deepest accepted query nesting. The introspection query of GraphiQL and code generators
    /// needs 15.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,

    /// Highest accepted query complexity; a list field costs its `first` (or its most items) times
    /// its selection, so a unit is about one row. The default admits a page of 20 learners with
    /// every detail list (about 28,000) and refuses nested pages of pages (100 × 100 × …).
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_COMPLEXITY", default_value_t = 50_000)]
    pub max_complexity: usize,

    /// Most operations accepted in one batched request.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Most aliased fields in the selected operation, counted through its fragments as often as
    /// they are spread (`TOO_MANY_ALIASES`). Aliases let one request ask for the same costly
    /// field many times over.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_ALIASES", default_value_t = 20)]
    pub max_aliases: usize,

    /// Most directives on one field, fragment spread or inline fragment (`TOO_MANY_DIRECTIVES`).
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_DIRECTIVES", default_value_t = 5)]
    pub max_directives: usize,

    /// Most lexical tokens in a document (names, punctuation, values; not whitespace, commas or
    /// comments), counted before it is parsed (`TOO_MANY_TOKENS`). GraphiQL's introspection query
    /// has about 200, the full learner view about 300.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_TOKENS", default_value_t = 10_000)]
    pub max_tokens: usize,

    /// A trusted documents manifest (JSON: document id → text, as GraphQL Code Generator's client
    /// preset and Relay write them; `learngraph trust` builds one). Set: learner tokens may run
    /// only its documents (`DOCUMENT_NOT_TRUSTED` otherwise), by id or identical text.
    #[arg(long, global = true, env = "LEARNGRAPH_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<std::path::PathBuf>,

    /// Whom the trusted documents bind: `learners` (learner tokens and anonymous requests; staff
    /// and services run anything) or `everyone`.
    #[arg(long, global = true, env = "LEARNGRAPH_TRUSTED_DOCUMENTS_FOR", value_enum, default_value_t = TrustedFor::Learners)]
    pub trusted_documents_for: TrustedFor,

    /// After SIGTERM (or Ctrl-C), how long in-flight requests and WebSockets get to finish before
    /// the process exits anyway, in seconds. An idle server exits at once.
    #[arg(long, global = true, env = "LEARNGRAPH_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Longest a single SQL statement may run on PostgreSQL, in milliseconds.
    #[arg(long, global = true, env = "LEARNGRAPH_STATEMENT_TIMEOUT_MS", default_value_t = 10_000)]
    pub statement_timeout_ms: u64,

    /// Threads that run requests; 0 (the default): one per CPU. On a machine whose CPUs are
    /// shared with the database (or the load), fewer threads hand work between each other less
    /// often: see the README's benchmark section.
    #[arg(long, global = true, env = "LEARNGRAPH_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,

    /// Most pooled database connections.
    #[arg(long, global = true, env = "LEARNGRAPH_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Longest a request waits for a database connection (a pooled one, or a new one to answer)
    /// before it fails with `SERVICE_UNAVAILABLE` (HTTP 503), in milliseconds; also bounds
    /// `/readyz`. When the database is down, requests fail within this instead of hanging.
    #[arg(long, global = true, env = "LEARNGRAPH_DB_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_timeout_ms: u64,

    /// Keep events for this many days: older ones are deleted when the learner logs a new one and
    /// by the retention sweep. Unset: events are kept forever.
    #[arg(long, global = true, env = "LEARNGRAPH_EVENT_RETENTION_DAYS")]
    pub event_retention_days: Option<u32>,

    /// Retention: delete chat messages older than this many days (and chat posts left without a
    /// newer message). Unset: kept.
    #[arg(long, global = true, env = "LEARNGRAPH_CHAT_RETENTION_DAYS")]
    pub chat_retention_days: Option<u32>,

    /// Retention: delete agent conversation states not updated for this many days. Unset: kept.
    #[arg(long, global = true, env = "LEARNGRAPH_CONVERSATION_STATE_RETENTION_DAYS")]
    pub conversation_state_retention_days: Option<u32>,

    /// Retention: delete attempts and PRACTICE sessions older than this many days; practice days,
    /// statistics and streaks are rebuilt from what remains. Unset: kept.
    #[arg(long, global = true, env = "LEARNGRAPH_PRACTICE_RETENTION_DAYS")]
    pub practice_retention_days: Option<u32>,

    /// Retention: erase learners with nothing written for this many days, entirely (an erasure
    /// record stays). Unset: kept.
    #[arg(long, global = true, env = "LEARNGRAPH_INACTIVE_LEARNER_RETENTION_DAYS")]
    pub inactive_learner_retention_days: Option<u32>,

    /// Run the retention sweep in the server every this many seconds (the first one after one
    /// interval). Unset: only `learngraph retention` sweeps.
    #[arg(long, global = true, env = "LEARNGRAPH_RETENTION_INTERVAL_SECS")]
    pub retention_interval_secs: Option<u64>,

    /// Most rows the retention sweep deletes in one transaction.
    #[arg(long, global = true, env = "LEARNGRAPH_RETENTION_BATCH_ROWS", default_value_t = 500)]
    pub retention_batch_rows: u64,

    /// Memory for this replica's cache of journal embeddings (similarity search), in MiB; 0 turns
    /// it off. A learner with 10,000 entries of 1,536 dimensions takes about 59 MiB.
    #[arg(long, global = true, env = "LEARNGRAPH_EMBEDDING_CACHE_MB", default_value_t = 256)]
    pub embedding_cache_mb: usize,

    /// A profiling question bank (JSON file) to use instead of the one shipped with the binary. It
    /// is validated at start (a broken bank stops the server) and stored as a new version when it
    /// differs from the current one.
    #[arg(long, global = true, env = "LEARNGRAPH_PROFILING_BANK")]
    pub profiling_bank: Option<std::path::PathBuf>,

    /// Largest document `exportLearner` returns over GraphQL, in bytes; a larger export is refused
    /// with TOO_LARGE (`learngraph export` streams any size).
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_EXPORT_BYTES", default_value_t = 16 * 1_048_576)]
    pub max_export_bytes: usize,

    /// Most WebSocket connections this process holds; one more is refused with HTTP 503.
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_WS_CONNECTIONS", default_value_t = 1000)]
    pub max_ws_connections: usize,

    /// Most subscriptions one WebSocket connection may run at once (TOO_MANY_SUBSCRIPTIONS).
    #[arg(long, global = true, env = "LEARNGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 20)]
    pub max_subscriptions_per_connection: usize,

    /// Seconds a new WebSocket connection has to send `connection_init` before it is closed (4408).
    #[arg(long, global = true, env = "LEARNGRAPH_WS_INIT_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_init_timeout_secs: u64,

    /// Activities held per learner for subscribers that have not read them yet; a subscriber that
    /// falls further behind is ended with SLOW_SUBSCRIBER (it resumes with `after`).
    #[arg(long, global = true, env = "LEARNGRAPH_LIVE_BUFFER", default_value_t = 256)]
    pub live_buffer: usize,

    /// Days the activity feed keeps an activity for resuming subscriptions (unset: forever). A
    /// cursor older than that is refused with CURSOR_EXPIRED.
    #[arg(long, global = true, env = "LEARNGRAPH_ACTIVITY_RETENTION_DAYS")]
    pub activity_retention_days: Option<u32>,

    /// Log filter, in `tracing` env-filter syntax (e.g. `info`, `learngraph=debug`).
    #[arg(long, global = true, env = "LEARNGRAPH_LOG", default_value = "info")]
    pub log: String,
}

/// A secret setting: usable, but never printed (`Debug` shows `***`), so a logged `Config` or a
/// panic message cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl Config {
    /// Defaults for everything, with the given database: what tests and tools start from. The
    /// `LEARNGRAPH_*` variables of the environment are ignored, so a developer's shell cannot
    /// change a test's settings.
    pub fn for_database(url: &str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command().mut_args(|a| a.env(None));
        let matches = command.get_matches_from(["learngraph", "--database-url", url]);
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli.config,
            // Only reachable if a default value stops parsing: a bug here, not input.
            Err(e) => panic!("built-in defaults do not parse: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret() {
        let mut config = Config::for_database("sqlite::memory:");
        config.jwt_secret = Some(Secret::new("hunter2-very-secret"));
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn defaults_for_tests_ignore_the_environment() {
        use clap::CommandFactory;
        // The command tests build has no environment fallback on any argument.
        let command = Cli::command().mut_args(|a| a.env(None));
        assert!(command.get_arguments().all(|a| a.get_env().is_none()));
        let config = Config::for_database("sqlite::memory:");
        assert_eq!(config.max_complexity, 50_000);
        assert!(config.jwt_secret.is_none());
    }
}
