//! Reads on connections that stay checked out between statements.
//!
//! sqlx gives a pooled connection back through a spawned task that pings the server first (a
//! `Sync` and a wait for `ReadyForQuery` on PostgreSQL, a round trip to the connection's worker
//! thread on SQLite), whatever the pool's options say (`sqlx-core` `pool/connection.rs`,
//! `return_to_pool`). Through `DatabaseConnection` every statement acquires and releases, so
//! every read paid for a second round trip and two more tasks; `strace` showed the 5-byte `Sync`
//! after each statement of a FullLearnerView.
//!
//! `Reader` keeps the connections of statements that ran to completion in a small stash and runs
//! the next statement on the most recently used one, without a ping. What the ping protects
//! against is kept:
//! - A statement that fails, or whose future is dropped before it finishes (a cancelled request),
//!   leaves its connection to sqlx's usual release, ping included: only a connection whose last
//!   exchange completed is stashed.
//! - A stashed connection idle for `IDLE` or longer is not reused but released to the pool, which
//!   tests it on its next checkout (`db::connect` sets that); a sweep every `IDLE` releases them
//!   when no reads come, so a quiet server holds no connections outside its pool.
//! - At most half the pool's connections wait in the stash, so writes always find room.
//! - A connection out of the pool for `CYCLE` goes back to it after its statement, so the pool's
//!   own checks on release (its maximum lifetime) still run under steady load.
//!
//! Reads run outside transactions, as through `DatabaseConnection`. Every statement is counted by
//! the same `StatementCounter` as the pool's.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Database, Pool, Postgres, Sqlite};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;

use crate::db::StatementCounter;

/// How long a stashed connection may sit unused before it goes back to the pool: the pool's own
/// idle time after which a connection is tested before use (`db::POOL_PING_IF_IDLE_FOR`).
const IDLE: Duration = crate::db::POOL_PING_IF_IDLE_FOR;

/// How long a connection may stay out of the pool, stashed between statements, before it goes back.
const CYCLE: Duration = Duration::from_secs(60);

/// Runs reads on stashed connections of `db`'s pool (see the module). Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    pools: Pools,
    db: DatabaseConnection,
    statements: StatementCounter,
}

#[derive(Clone)]
enum Pools {
    Postgres(Arc<Stash<Postgres>>),
    Sqlite(Arc<Stash<Sqlite>>),
    /// Neither engine's pool: reads go through `DatabaseConnection` (which counts them).
    Other,
}

/// Connections whose last statement completed, with when they were last used, most recently used
/// last.
struct Stash<DB: Database> {
    pool: Pool<DB>,
    idle: Mutex<Vec<(Held<DB>, Instant)>>,
    most: usize,
    cycle: Duration,
}

/// A connection out of the pool, and since when.
struct Held<DB: Database> {
    conn: PoolConnection<DB>,
    since: Instant,
}

impl<DB: Database> Stash<DB> {
    fn new(pool: &Pool<DB>, cycle: Duration) -> Arc<Self> {
        let most = (pool.options().get_max_connections() / 2).max(1) as usize;
        let idle = Mutex::new(Vec::with_capacity(most));
        let stash = Arc::new(Stash { pool: pool.clone(), idle, most, cycle });
        let weak = Arc::downgrade(&stash);
        tokio::spawn(sweep(weak));
        stash
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Held<DB>, Instant)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently stashed connection if it was used within `IDLE`, else one from the pool.
    async fn take(&self) -> Result<Held<DB>, DbErr> {
        let stale = {
            let mut idle = self.lock();
            match idle.pop() {
                Some((held, at)) if at.elapsed() < IDLE => return Ok(held),
                // The newest is stale, so all are: release them (outside the lock).
                Some(newest) => {
                    let mut stale = std::mem::take(&mut *idle);
                    stale.push(newest);
                    stale
                }
                None => Vec::new(),
            }
        };
        drop(stale);
        let conn = self.pool.acquire().await.map_err(acquire_error)?;
        Ok(Held { conn, since: Instant::now() })
    }

    /// Stashes a connection whose statement completed; past `most`, or out of the pool for
    /// `cycle`, it goes back to the pool.
    fn put(&self, held: Held<DB>) {
        if held.since.elapsed() >= self.cycle {
            return drop(held);
        }
        let mut idle = self.lock();
        if idle.len() < self.most {
            idle.push((held, Instant::now()));
        } else {
            drop(idle);
            drop(held);
        }
    }

    /// Releases the connections unused for `IDLE` to the pool.
    fn release_stale(&self) {
        let stale: Vec<_> = {
            let mut idle = self.lock();
            let fresh = idle.iter().position(|(_, at)| at.elapsed() < IDLE).unwrap_or(idle.len());
            idle.drain(..fresh).collect()
        };
        drop(stale);
    }
}

/// Every `IDLE`, releases the stash's stale connections, until the stash is dropped.
async fn sweep<DB: Database>(stash: Weak<Stash<DB>>) {
    let mut tick = tokio::time::interval(IDLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match stash.upgrade() {
            Some(stash) => stash.release_stale(),
            None => return,
        }
    }
}

impl Reader {
    /// A reader over `db`'s pool, counting into `statements`. Must be called inside a tokio
    /// runtime (it starts the sweep).
    pub fn new(db: &DatabaseConnection, statements: StatementCounter) -> Self {
        Self::cycling(db, statements, CYCLE)
    }

    /// `new`, giving connections back to the pool after `cycle` out of it (tests shorten it).
    pub fn cycling(db: &DatabaseConnection, statements: StatementCounter, cycle: Duration) -> Self {
        let pools = match db.get_database_backend() {
            DbBackend::Postgres => Pools::Postgres(Stash::new(db.get_postgres_connection_pool(), cycle)),
            DbBackend::Sqlite => Pools::Sqlite(Stash::new(db.get_sqlite_connection_pool(), cycle)),
            _ => Pools::Other,
        };
        Reader { pools, db: db.clone(), statements }
    }

    /// Connections waiting in the stash.
    pub fn stashed(&self) -> usize {
        match &self.pools {
            Pools::Postgres(s) => s.lock().len(),
            Pools::Sqlite(s) => s.lock().len(),
            Pools::Other => 0,
        }
    }

    /// Gives every stashed connection back to the pool now (before closing the pool, which waits
    /// for all its connections).
    pub fn release(&self) {
        match &self.pools {
            Pools::Postgres(s) => drop(std::mem::take(&mut *s.lock())),
            Pools::Sqlite(s) => drop(std::mem::take(&mut *s.lock())),
            Pools::Other => {}
        }
    }
}

/// sqlx's error from acquiring a connection, as sea-orm reports it (`error::is_unavailable` reads
/// these).
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn exec_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

/// The sqlx query of a statement, as sea-orm builds it.
fn query<DB: Database>(stmt: Statement) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    SqlxValues: sqlx::IntoArguments<DB>,
{
    // The statement is ours: its values move into the arguments (sea-orm's own path clones them).
    let values = stmt.values.unwrap_or_else(|| sea_orm::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql), SqlxValues(values))
}

/// Runs `$run` (an expression over `$conn`, a `&mut` connection, giving a sqlx `Result`) on a
/// stashed connection of `$stash`, counted, stashing the connection again only when the statement
/// succeeded; `$map` turns the sqlx error into a `DbErr`.
macro_rules! stashed {
    ($reader:expr, $stash:expr, |$conn:ident| $run:expr, $map:expr) => {{
        $reader.statements.add();
        let mut held = $stash.take().await?;
        let $conn = &mut *held.conn;
        let out = $run;
        if out.is_ok() {
            $stash.put(held);
        }
        out.map_err($map)
    }};
}

/// `stashed!` on whichever engine `$reader` reads; `$fallback` without a pool of either.
macro_rules! on_stash {
    ($reader:expr, $fallback:expr, |$conn:ident| $run:expr, $map:expr) => {
        match &$reader.pools {
            Pools::Postgres(stash) => stashed!($reader, stash, |$conn| $run, $map),
            Pools::Sqlite(stash) => stashed!($reader, stash, |$conn| $run, $map),
            Pools::Other => $fallback,
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Reader {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_stash!(
            self,
            self.db.execute_raw(stmt).await,
            |conn| query(stmt).execute(conn).await.map(ExecResult::from),
            exec_error
        )
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_stash!(
            self,
            self.db.query_one_raw(stmt).await,
            |conn| query(stmt).fetch_optional(conn).await.map(|row| row.map(QueryResult::from)),
            query_error
        )
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_stash!(
            self,
            self.db.query_all_raw(stmt).await,
            |conn| query(stmt).fetch_all(conn).await.map(|rows| rows.into_iter().map(QueryResult::from).collect()),
            query_error
        )
    }
}
