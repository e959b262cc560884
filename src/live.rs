//! Live activity: this replica's fan-out of committed activities to its WebSocket subscribers.
//!
//! A write appends to the `activity` feed in its own transaction (`store::activity::append`).
//! After it commits, the hub is told which learner changed: on SQLite by the writer itself
//! (`WriteTxn::commit`, one process), on PostgreSQL by a trigger's `NOTIFY learngraph_activity`
//! that every replica `LISTEN`s to on one connection. The notice carries only the learner id; one
//! dispatcher task reads the new rows once (with the rows they are about) and broadcasts them to
//! that learner's subscribers. Each subscriber checks sequence numbers and reads any gap from the
//! feed, so a lost notice, a reconnect of the listener or a lagging channel never loses an item.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::prelude::Uuid;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

use crate::store::activity::{self, Item};

/// The PostgreSQL channel the activity trigger notifies (migration 000008).
pub const CHANNEL: &str = "learngraph_activity";
/// The `application_name` of each replica's LISTEN connection (to find it in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "learngraph-activity-listener";
/// Activities read per query when catching up.
const FETCH_ROWS: u64 = 200;
/// Learners caught up at once by the dispatcher.
const FETCH_CONCURRENCY: usize = 8;

/// This replica's hub: cheap to clone.
#[derive(Clone)]
pub struct Live(Arc<Inner>);

struct Inner {
    db: DatabaseConnection,
    /// The PostgreSQL URL to LISTEN on; `None` on SQLite (commits wake the hub in-process).
    listen_url: Option<String>,
    topics: Mutex<HashMap<Uuid, Topic>>,
    wake: mpsc::UnboundedSender<Wake>,
    /// The dispatcher's end of `wake`, until the first subscriber starts it.
    pending: Mutex<Option<mpsc::UnboundedReceiver<Wake>>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    buffer: usize,
    max_connections: usize,
    connections: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().map(std::mem::take).unwrap_or_default() {
            task.abort();
        }
    }
}

/// One learner with subscribers here.
struct Topic {
    tx: broadcast::Sender<Arc<Item>>,
    /// The last sequence number broadcast (or known to exist when the topic was made).
    last_fetched: i64,
}

enum Wake {
    Learner(Uuid),
    /// Catch every topic up: the LISTEN connection was (re)established, notices may be lost.
    All,
}

/// A WebSocket connection's place under the process limit; released on drop.
pub struct ConnectionPermit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Live {
    /// `buffer`: activities held per learner for subscribers that are behind; one that falls
    /// further behind is closed (SLOW_SUBSCRIBER). `max_connections`: WebSocket connections.
    pub fn new(db: DatabaseConnection, database_url: &str, buffer: usize, max_connections: usize) -> Self {
        let (wake, pending) = mpsc::unbounded_channel();
        let listen_url = (db.get_database_backend() == DbBackend::Postgres).then(|| database_url.to_owned());
        Live(Arc::new(Inner {
            db,
            listen_url,
            topics: Mutex::default(),
            wake,
            pending: Mutex::new(Some(pending)),
            tasks: Mutex::default(),
            buffer: buffer.max(1),
            max_connections,
            connections: Arc::new(Semaphore::new(max_connections)),
            shutdown: watch::channel(false).0,
        }))
    }

    /// Starts the dispatcher (and, on PostgreSQL, the listener) on first use.
    fn start(&self) {
        let Some(rx) = self.0.pending.lock().ok().and_then(|mut p| p.take()) else { return };
        let mut tasks = vec![tokio::spawn(dispatch(Arc::downgrade(&self.0), rx)).abort_handle()];
        if let Some(url) = &self.0.listen_url {
            tasks.push(tokio::spawn(listen(Arc::downgrade(&self.0), url.clone())).abort_handle());
        }
        if let Ok(mut t) = self.0.tasks.lock() {
            t.extend(tasks);
        }
    }

    /// Subscribes to `learner`'s activities committed from now on (and some just before: compare
    /// sequence numbers).
    pub async fn subscribe(&self, learner: Uuid) -> Result<broadcast::Receiver<Arc<Item>>, sea_orm::DbErr> {
        self.start();
        if let Some(rx) = self.topics().get(&learner).map(|t| t.tx.subscribe()) {
            return Ok(rx);
        }
        let seq = activity::current(&self.0.db, learner).await?;
        let mut topics = self.topics();
        let topic = topics
            .entry(learner)
            .or_insert_with(|| Topic { tx: broadcast::channel(self.0.buffer).0, last_fetched: seq });
        Ok(topic.tx.subscribe())
    }

    /// Called after a write for these learners committed (SQLite; PostgreSQL hears its NOTIFY).
    pub fn committed(&self, learners: &[Uuid]) {
        if self.0.listen_url.is_some() || learners.is_empty() {
            return;
        }
        let topics = self.topics();
        for learner in learners.iter().filter(|l| topics.contains_key(l)) {
            self.0.wake.send(Wake::Learner(*learner)).ok();
        }
    }

    /// A place for one more WebSocket connection, or `None` at the limit.
    pub fn connection(&self) -> Option<ConnectionPermit> {
        self.0.connections.clone().try_acquire_owned().ok().map(ConnectionPermit)
    }

    /// Turns true when the server shuts down; connections then close with 1001.
    pub fn shutting_down(&self) -> watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// Tells every connection to close (1001, going away).
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// `begin_shutdown`, then waits (at most `grace`) until every connection has closed.
    pub async fn shut_down(&self, grace: Duration) {
        self.begin_shutdown();
        let all = u32::try_from(self.0.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.0.connections.acquire_many(all)).await.is_err() {
            tracing::warn!("WebSocket connections still open after the shutdown grace period");
        }
    }

    /// Learners with a topic here (for tests and metrics).
    pub fn topic_count(&self) -> usize {
        self.topics().len()
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Topic>> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.0.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The one task that reads new activities and broadcasts them, so each is read once per replica
/// and sent in order.
async fn dispatch(hub: Weak<Inner>, mut wakes: mpsc::UnboundedReceiver<Wake>) {
    while let Some(first) = wakes.recv().await {
        let mut all = false;
        let mut learners = HashSet::new();
        let mut note = |w: Wake| match w {
            Wake::Learner(l) => {
                learners.insert(l);
            }
            Wake::All => all = true,
        };
        note(first);
        while let Ok(w) = wakes.try_recv() {
            note(w);
        }
        let Some(inner) = hub.upgrade() else { return };
        let live = Live(inner);
        let due: Vec<(Uuid, i64, broadcast::Sender<Arc<Item>>)> = {
            let mut topics = live.topics();
            topics.retain(|_, t| t.tx.receiver_count() > 0);
            topics
                .iter()
                .filter(|(l, _)| all || learners.contains(l))
                .map(|(l, t)| (*l, t.last_fetched, t.tx.clone()))
                .collect()
        };
        futures_util::stream::iter(due)
            .for_each_concurrent(FETCH_CONCURRENCY, |(learner, last, tx)| {
                let live = live.clone();
                async move { live.catch_up(learner, last, tx).await }
            })
            .await;
    }
}

impl Live {
    async fn catch_up(&self, learner: Uuid, mut last: i64, tx: broadcast::Sender<Arc<Item>>) {
        loop {
            let items = match activity::after(&self.0.db, learner, last, None, FETCH_ROWS).await {
                Ok(items) => items,
                Err(e) => {
                    // Subscribers stay where they are; try again shortly.
                    tracing::warn!(error = %e, %learner, "reading new activities failed; retrying");
                    let wake = self.0.wake.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        wake.send(Wake::Learner(learner)).ok();
                    });
                    return;
                }
            };
            let full = items.len() as u64 == FETCH_ROWS;
            for item in items {
                last = item.row.seq;
                tx.send(Arc::new(item)).ok();
            }
            if let Some(topic) = self.topics().get_mut(&learner) {
                topic.last_fetched = topic.last_fetched.max(last);
            }
            if !full {
                return;
            }
        }
    }
}

/// Listens for activity notices on one PostgreSQL connection and wakes the dispatcher; after each
/// (re)connect it catches every topic up, covering notices sent while it was away.
async fn listen(hub: Weak<Inner>, url: String) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match connect_listener(&url).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                tracing::info!("listening for activity on PostgreSQL");
                let Some(wake) = hub.upgrade().map(|h| h.wake.clone()) else { return };
                // Caught up after every (re)connect: what was notified meanwhile is in the feed.
                wake.send(Wake::All).ok();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notice)) => {
                            if let Ok(learner) = Uuid::from_str(notice.payload()) {
                                wake.send(Wake::Learner(learner)).ok();
                            }
                        }
                        // sqlx reconnected and listens again: catch up on what was missed.
                        Ok(None) => {
                            tracing::warn!("activity listener reconnected");
                            wake.send(Wake::All).ok();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "activity listener lost its connection");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "activity listener cannot connect; retrying"),
        }
        if hub.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn connect_listener(url: &str) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
    let options = PgConnectOptions::from_str(url)?.application_name(LISTENER_APPLICATION_NAME);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
