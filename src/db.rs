//! Connecting (SQLite pragmas, PostgreSQL pool and statement timeout), migrating, and write
//! transactions that serialize cleanly on both engines.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use entity::activity::ActivityKind;

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The number of SQL statements a connection pool has run (transactions opened from it included):
/// what the statement-count tests and the benchmark read.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<std::sync::atomic::AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one statement: the pool's hook, and `reader::Reader`, whose statements bypass it.
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn attach(&self, db: &mut DatabaseConnection) {
        let count = self.clone();
        db.set_metric_callback(move |_| count.add());
    }
}

/// `connect`, with every statement counted.
pub async fn connect_counted(config: &Config) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let mut db = connect(config).await?;
    let counter = StatementCounter::default();
    counter.attach(&mut db);
    Ok((db, counter))
}

/// How long a pooled connection may sit idle before it is tested on checkout.
pub(crate) const POOL_PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(config.database_url.clone());
    // A request waits at most `db_timeout_ms` for a connection, then fails with
    // SERVICE_UNAVAILABLE; the pool tests a connection idle for a second or more before handing it
    // out, so connections that died with the database are replaced once it answers again, with
    // no restart. A connection in steady use is not tested: a ping on every checkout was a second
    // round trip for every statement.
    let timeout = Duration::from_millis(config.db_timeout_ms.max(1));
    opts.sqlx_logging(false)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .test_before_acquire_if_idle_for(POOL_PING_IF_IDLE_FOR);
    if config.database_url.starts_with("sqlite:") {
        // WAL lets readers run beside the single writer; the busy timeout makes writers queue
        // instead of failing with "database is locked"; foreign keys are off by default in SQLite.
        opts.max_connections(config.db_max_connections.clamp(1, 8)).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .create_if_missing(true)
        });
        opts.map_sqlx_sqlite_pool_opts(|o| o.after_connect(|conn, _| Box::pin(stable_plans(conn))));
    } else {
        opts.max_connections(config.db_max_connections)
            .min_connections(1)
            .statement_timeout(Duration::from_millis(config.statement_timeout_ms));
    }
    match Database::connect(opts.clone()).await {
        Err(e) if is_missing_database(&e) => {
            create_database(&config.database_url).await?;
            Database::connect(opts).await
        }
        other => other,
    }
    .with_context(|| format!("connecting to {}", redact(&config.database_url)))
}

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for a new
/// connection. Without it, a statement whose `LIMIT` is a bound parameter (every page, and every
/// `.one()`) is marked as planned for that value, and binding it again, as each execution does,
/// makes SQLite parse and plan the statement anew: under callgrind that re-preparing was a third of
/// the instructions of a FullLearnerView on SQLite. With it, a prepared statement keeps its plan
/// whatever its parameters are, as on PostgreSQL.
async fn stable_plans(conn: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut now: std::ffi::c_int = 0;
    // SAFETY: `db` is this connection's open handle, locked for the duration of the call so no
    // other call uses it; the option takes an int and a pointer to an int to write the new state
    // to, both valid here.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            &mut now as *mut std::ffi::c_int,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK || now != 1 {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused SQLITE_DBCONFIG_ENABLE_QPSG (code {rc})").into(),
        ));
    }
    Ok(())
}

/// PostgreSQL's "database … does not exist" (SQLSTATE 3D000).
fn is_missing_database(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("3D000") || (text.contains("database \"") && text.contains("does not exist"))
}

/// Creates the database a PostgreSQL URL names, through the server's `postgres` database; when the
/// role may not, the error says what to run.
async fn create_database(url: &str) -> anyhow::Result<()> {
    let (base, rest) = url.rsplit_once('/').context("a PostgreSQL URL names its database after the last `/`")?;
    let (name, query) = rest.split_once('?').map_or((rest, ""), |(n, q)| (n, q));
    let admin = if query.is_empty() { format!("{base}/postgres") } else { format!("{base}/postgres?{query}") };
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let conn = Database::connect(&admin).await.with_context(|| {
        format!("database {name} does not exist, and the server's `postgres` database cannot be reached to create it")
    })?;
    let created = conn.execute_unprepared(&format!("CREATE DATABASE {quoted}")).await;
    conn.close().await.ok();
    match created {
        Ok(_) => {
            tracing::info!(database = name, "created the database");
            Ok(())
        }
        // Another replica created it first.
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "database {name} does not exist and this role may not create it ({e}); run `createdb {name}` (or \
             CREATE DATABASE {quoted};) as a role that may, then start again"
        )),
    }
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

/// A write transaction that holds this process's turn to write (SQLite) until it is committed or
/// dropped; dropping it rolls back. Open one through `graphql::access`, which checks scope first.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
    /// Told which learners this write touched once it commits (live subscriptions).
    live: Option<crate::live::Live>,
    learners: Vec<uuid::Uuid>,
    /// Activities to append when committing (`activity`).
    activities: std::collections::BTreeMap<uuid::Uuid, Vec<(ActivityKind, Option<uuid::Uuid>)>>,
    now: chrono::DateTime<chrono::Utc>,
}

impl WriteTxn {
    /// Appends the activities noted with `activity` (last, so the lock on each learner's feed is
    /// held only for the commit), commits, then tells live subscribers of the learners touched.
    pub async fn commit(self) -> Result<(), DbErr> {
        for (learner, items) in &self.activities {
            crate::store::activity::append(&self.txn, *learner, items, self.now).await?;
        }
        self.txn.commit().await?;
        if let Some(live) = &self.live {
            live.committed(&self.learners);
        }
        Ok(())
    }

    /// Notes that this write did `kind` (about the row `subject`) for `learner`: appended to the
    /// learner's activity feed by `commit`, in the order noted.
    pub fn activity(&mut self, learner: uuid::Uuid, kind: ActivityKind, subject: Option<uuid::Uuid>) {
        self.touches(learner);
        self.activities.entry(learner).or_default().push((kind, subject));
    }

    /// Names a learner this write touches (the scope gate calls it).
    pub fn touches(&mut self, learner: uuid::Uuid) {
        if !self.learners.contains(&learner) {
            self.learners.push(learner);
        }
    }

    /// Sends this write's commit to `live`; `now` dates its activities.
    pub fn with_live(mut self, live: crate::live::Live, now: chrono::DateTime<chrono::Utc>) -> Self {
        self.live = Some(live);
        self.now = now;
        self
    }
}

impl WriteTxn {
    fn new(txn: DatabaseTransaction, turn: Option<OwnedSemaphorePermit>) -> Self {
        WriteTxn {
            txn,
            _turn: turn,
            live: None,
            learners: Vec::new(),
            activities: Default::default(),
            now: chrono::Utc::now(),
        }
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Begins a transaction for a write. On SQLite it starts IMMEDIATE, taking the write lock up front:
/// a deferred transaction that reads and then writes can fail with SQLITE_BUSY when another
/// writer committed in between, even with a busy timeout. On PostgreSQL it is a plain
/// READ COMMITTED transaction; counters are updated with `x = x + 1` in SQL.
///
/// SQLite has one writer at a time. Writers of this process first take their turn at `gate`, so
/// they queue in order instead of sleeping in SQLite's busy handler (which polls with growing
/// sleeps and makes tail latency long); the busy timeout still covers other processes. The turn
/// lives inside the returned value, so it cannot be dropped before the transaction ends.
pub async fn begin_write(db: &DatabaseConnection, gate: &Arc<Semaphore>) -> Result<WriteTxn, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let turn = gate.clone().acquire_owned().await.ok();
            let txn = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?;
            Ok(WriteTxn::new(txn, turn))
        }
        _ => Ok(WriteTxn::new(db.begin().await?, None)),
    }
}

/// Moves everything from SQLite's write-ahead log into the database file and empties the log, so
/// the `.sqlite` file alone holds the data (what a user copying it as a backup expects). A no-op
/// on PostgreSQL. Called when the server stops.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    Ok(())
}

/// Writes a consistent copy of the SQLite database to `out` (which must not exist) while others
/// keep reading and writing: `VACUUM INTO` reads one snapshot.
pub async fn backup(db: &DatabaseConnection, out: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        db.get_database_backend() == DbBackend::Sqlite,
        "`learngraph backup` copies SQLite databases; for PostgreSQL use pg_dump (see the README)"
    );
    anyhow::ensure!(!out.exists(), "{} exists; choose a new file", out.display());
    let path = out.to_str().context("the backup path is not UTF-8")?;
    let stmt = sea_orm::Statement::from_sql_and_values(DbBackend::Sqlite, "VACUUM INTO ?", [path.into()]);
    db.execute_raw(stmt).await.with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
