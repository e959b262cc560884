//! When the database stops answering, requests fail fast with SERVICE_UNAVAILABLE (HTTP 503),
//! `/readyz` says 503, nothing is half-written, and the server recovers by itself when the
//! database returns. PostgreSQL is cut through a TCP proxy; SQLite runs out of disk.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::{Backend, TestApp, first_code, http_client, postgres_url};

/// A TCP proxy in front of PostgreSQL that can be cut (every open connection dropped; new ones
/// closed at once, as when the database is down, or held open without an answer, as when the
/// network swallows packets) and restored.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let hang = Arc::new(AtomicBool::new(false));
        let (cuts, _) = watch::channel(0u64);
        let (accept_up, accept_hang, accept_cuts) = (up.clone(), hang.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    if accept_hang.load(Ordering::SeqCst) {
                        // Held open, never answered, until the proxy is restored.
                        let mut cut = accept_cuts.subscribe();
                        tokio::spawn(async move {
                            let _ = cut.changed().await;
                            drop(client);
                        });
                    }
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, up, hang, cuts }
    }

    fn cut(&self, hang: bool) {
        self.hang.store(hang, Ordering::SeqCst);
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }
}

/// `host:port` of a PostgreSQL URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') { host.to_owned() } else { format!("{host}:5432") }
}

async fn ready(app: &TestApp) -> u16 {
    http_client().get(app.url("/readyz")).send().await.expect("readyz").status().as_u16()
}

async fn post_timed(app: &TestApp, body: Value) -> (u16, Value, Duration) {
    let started = Instant::now();
    let res = http_client().post(app.url("/graphql")).json(&body).send().await.expect("post");
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").is_some();
    let body: Value = res.json().await.expect("json");
    if status == 503 {
        assert!(retry_after, "a 503 says when to retry");
    }
    (status, body, started.elapsed())
}

const ENSURE: &str = "mutation($e: String!) { ensureLearner(input: { externalId: $e }) { learner { externalId } } }";
const READ: &str = "query($e: String!) { learner(externalId: $e) { externalId } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
async fn postgres_outage_answers_503_fast_and_recovers_without_a_restart() {
    let upstream = host_port(&postgres_url().expect("LEARNGRAPH_TEST_POSTGRES_URL"));
    let proxy = Proxy::start(upstream.clone()).await;
    let via_proxy = proxy.addr.to_string();
    let app = TestApp::spawn_with(Backend::Postgres, Default::default(), |c| {
        c.database_url = c.database_url.replacen(&upstream, &via_proxy, 1);
        c.db_timeout_ms = 1_000;
    })
    .await;
    assert!(app.database_url().contains(&via_proxy), "the app talks through the proxy");
    let (status, body, _) = post_timed(&app, json!({ "query": ENSURE, "variables": { "e": "before" } })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ready(&app).await, 200);

    // Down (connections refused), then unreachable (connections that never answer).
    for (hang, during) in [(false, "during-down"), (true, "during-hang")] {
        proxy.cut(hang);
        for (query, e) in [(READ, "before"), (ENSURE, during)] {
            let (status, body, took) = post_timed(&app, json!({ "query": query, "variables": { "e": e } })).await;
            assert_eq!(status, 503, "hang {hang}: {body}");
            assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
            assert!(took < Duration::from_secs(8), "failed within the timeout, not hanging: {took:?}");
        }
        assert_eq!(ready(&app).await, 503);
        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(20);
        while ready(&app).await != 200 {
            assert!(Instant::now() < deadline, "the server did not recover by itself");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (status, body, _) = post_timed(&app, json!({ "query": ENSURE, "variables": { "e": "after" } })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.ok(READ, json!({ "e": "before" })).await["learner"]["externalId"], "before");
    assert_eq!(app.ok(READ, json!({ "e": "after" })).await["learner"]["externalId"], "after");
    assert_eq!(app.count_rows("learners", None).await, 2, "the write refused during the outage left nothing");
}

/// SQLite runs out of disk: `max_page_count` pinned to the file's size on the only pooled
/// connection makes every write that needs a new page fail with SQLITE_FULL, as a full disk does.
/// The write answers SERVICE_UNAVAILABLE with 503, changes nothing, and succeeds once there is
/// room again. (PostgreSQL's side of an outage is the proxy test above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_disk_answers_503_and_recovers() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_with(Backend::Sqlite, Default::default(), |c| c.db_max_connections = 1).await;
    let learner = app.learner("full").await;
    let big = json!({ "blob": "x".repeat(60_000) });
    let log = "mutation($l: ID!, $p: JSON) { logEvent(input: { learnerId: $l, kind: \"big\", payload: $p }) { event { id } } }";
    let db = &app.state.db;
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "PRAGMA page_count"));
    let pages: i64 = row.await.expect("page_count").expect("row").try_get_by_index(0).expect("int");
    db.execute_unprepared(&format!("PRAGMA max_page_count = {pages}")).await.expect("fill the disk");
    let (status, body, _) = post_timed(&app, json!({ "query": log, "variables": { "l": learner, "p": big } })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(app.count_rows("events", None).await, 0, "nothing was written");
    assert_eq!(ready(&app).await, 200, "reads still work on a full disk");
    db.execute_unprepared("PRAGMA max_page_count = 1073741823").await.expect("free the disk");
    let (status, body, _) = post_timed(&app, json!({ "query": log, "variables": { "l": learner, "p": big } })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.count_rows("events", None).await, 1);
}
