//! Live subscriptions over real WebSocket connections (graphql-transport-ws): delivery, scope,
//! resume, replicas on one PostgreSQL database, the LISTEN connection's recovery, the protocol's
//! close codes, limits, slow subscribers and shutdown.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use learngraph::config::{Role, Secret};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{Backend, SECRET, TestApp, first_code};
use crate::on_each_backend;

const WAIT: Duration = Duration::from_secs(10);

pub const ACTIVITY: &str = "subscription($l: ID!, $after: String, $kinds: [ActivityKind!]) {
  learnerActivity(learnerId: $l, after: $after, kinds: $kinds) {
    kind sequence cursor occurredAt
    attempt { id exerciseId isCorrect }
    streak { current longest }
    event { id kind }
    session { id kind }
    goal { id title }
    journalEntry { id content }
    chatMessage { id content }
    meditationReflection { id reflection }
    profilingSession { id status }
  }
}";

/// A graphql-transport-ws client.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server sent.
#[derive(Debug)]
pub enum Received {
    Json(Value),
    Closed(u16, String),
}

impl Ws {
    /// Connects speaking graphql-transport-ws, with an optional `Authorization` header.
    pub async fn open(addr: std::net::SocketAddr, authorization: Option<&str>) -> Ws {
        Self::try_open(addr, Some("graphql-transport-ws"), authorization).await.expect("WebSocket handshake")
    }

    pub async fn try_open(
        addr: std::net::SocketAddr,
        protocol: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{addr}/graphql").into_client_request()?;
        if let Some(p) = protocol {
            request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).expect("header"));
        }
        if let Some(a) = authorization {
            request.headers_mut().insert("Authorization", HeaderValue::from_str(a).expect("header"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { stream })
    }

    /// Connects and completes `connection_init` (open mode, or with `token`).
    pub async fn ready(addr: std::net::SocketAddr, token: Option<&str>) -> Ws {
        let mut ws = Ws::open(addr, None).await;
        let payload = token.map_or(json!({}), |t| json!({ "Authorization": format!("Bearer {t}") }));
        ws.send(json!({ "type": "connection_init", "payload": payload })).await;
        let ack = ws.json().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        ws
    }

    pub async fn send(&mut self, message: Value) {
        self.stream.send(Message::Text(message.to_string().into())).await.expect("send");
    }

    pub async fn receive(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next()).await.expect("a message before the timeout");
            match message {
                Some(Ok(Message::Text(t))) => return Received::Json(serde_json::from_str(t.as_str()).expect("json")),
                Some(Ok(Message::Close(frame))) => {
                    return frame.map_or(Received::Closed(1005, String::new()), |f| {
                        Received::Closed(f.code.into(), f.reason.to_string())
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("WebSocket error: {e}"),
                None => return Received::Closed(1006, String::new()),
            }
        }
    }

    pub async fn json(&mut self) -> Value {
        match self.receive().await {
            Received::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close code and reason the server closed with.
    pub async fn closed(&mut self) -> (u16, String) {
        match self.receive().await {
            Received::Closed(code, reason) => (code, reason),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next activity of subscription `id`.
    pub async fn activity(&mut self, id: &str) -> Value {
        let m = self.json().await;
        assert_eq!(m["type"], "next", "{m}");
        assert_eq!(m["id"], id, "{m}");
        assert!(m["payload"].get("errors").is_none(), "{m}");
        m["payload"]["data"]["learnerActivity"].clone()
    }
}

/// The cursor before a learner's first activity: subscribing after it replays everything, so a
/// test's writes arrive whether they commit before or after the subscription is registered.
fn start() -> String {
    learngraph::graphql::live::cursor(0)
}

async fn record(app: &TestApp, token: Option<&str>, learner: &str, exercise: &str) -> Value {
    let (status, body) = app
        .post(
            token,
            json!({
                "query": "mutation($l: ID!, $e: String!) { recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: true }) { attempt { id } streak { current } } }",
                "variables": { "l": learner, "e": exercise },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["recordAttempt"].clone()
}

async fn delivers_an_http_attempt_within_a_second(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("live-1").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("1", ACTIVITY, json!({ "l": learner, "after": start() })).await;
    // The subscription is live once it is registered; give the server a moment to register it
    // before writing (a write racing the subscribe would be before it, and not delivered).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = record(&app, None, &learner, "ex-1").await;
    let acknowledged = Instant::now();
    let first = ws.activity("1").await;
    let latency = acknowledged.elapsed();
    assert_eq!(first["kind"], "ATTEMPT");
    assert_eq!(first["attempt"]["id"], written["attempt"]["id"]);
    assert_eq!(first["attempt"]["exerciseId"], "ex-1");
    assert_eq!(first["streak"], Value::Null);
    assert_eq!(first["sequence"], 1);
    let second = ws.activity("1").await;
    assert_eq!(second["kind"], "STREAK", "the first attempt of a day moves the streak");
    assert_eq!(second["streak"], json!({ "current": 1, "longest": 1 }));
    assert_eq!(second["sequence"], 2);
    assert!(latency < Duration::from_secs(1), "delivered {latency:?} after the write was acknowledged");
    // A second attempt the same day is an ATTEMPT only.
    record(&app, None, &learner, "ex-2").await;
    let third = ws.activity("1").await;
    assert_eq!((third["kind"].as_str(), third["sequence"].as_i64()), (Some("ATTEMPT"), Some(3)));
}

async fn another_learners_activity_is_not_delivered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mine = app.learner("live-mine").await;
    let other = app.learner("live-other").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("a", ACTIVITY, json!({ "l": mine, "kinds": ["ATTEMPT"], "after": start() })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..3 {
        record(&app, None, &other, &format!("theirs-{i}")).await;
    }
    record(&app, None, &mine, "mine").await;
    let got = ws.activity("a").await;
    assert_eq!(got["attempt"]["exerciseId"], "mine", "the other learner's attempts never arrive");
    assert_eq!(got["sequence"], 1);
}

async fn every_kind_of_write_is_an_activity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("live-kinds").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("k", ACTIVITY, json!({ "l": learner, "after": start() })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let l = json!({ "l": learner });
    let goal = app
        .ok(
            "mutation($l: ID!) { createGoal(input: { learnerId: $l, title: \"Fractions\" }) { goal { id } } }",
            l.clone(),
        )
        .await;
    let event = app
        .ok("mutation($l: ID!) { logEvent(input: { learnerId: $l, kind: \"opened\" }) { event { id } } }", l.clone())
        .await;
    let session = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } } }",
            l.clone(),
        )
        .await;
    let session_id = session["startSession"]["session"]["id"].clone();
    app.ok("mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { id } } }", json!({ "s": session_id }))
        .await;
    // Ending again changes nothing, and is no activity.
    app.ok("mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { id } } }", json!({ "s": session_id }))
        .await;
    let entry = app
        .ok(
            "mutation($l: ID!) { createJournalEntry(input: { learnerId: $l, content: \"Today\" }) { entry { id } } }",
            l.clone(),
        )
        .await;
    let chat = app.ok("mutation($l: ID!) { postChatMessages(input: { learnerId: $l, messages: [{ role: USER, content: \"hi\" }, { role: ASSISTANT, content: \"hello\" }] }) { messages { id } } }", l.clone()).await;
    let reset =
        app.ok("mutation($l: ID!) { resetProgress(input: { learnerId: $l }) { deletedAttempts } }", l.clone()).await;
    assert_eq!(reset["resetProgress"]["deletedAttempts"], 0);
    let expected = [
        ("GOAL", "goal", goal["createGoal"]["goal"]["id"].clone()),
        ("EVENT", "event", event["logEvent"]["event"]["id"].clone()),
        ("SESSION_STARTED", "session", session_id.clone()),
        ("SESSION_ENDED", "session", session_id.clone()),
        ("JOURNAL_ENTRY", "journalEntry", entry["createJournalEntry"]["entry"]["id"].clone()),
        ("CHAT_MESSAGE", "chatMessage", chat["postChatMessages"]["messages"][0]["id"].clone()),
        ("CHAT_MESSAGE", "chatMessage", chat["postChatMessages"]["messages"][1]["id"].clone()),
    ];
    for (i, (kind, field, id)) in expected.iter().enumerate() {
        let got = ws.activity("k").await;
        assert_eq!(got["kind"], *kind, "{got}");
        assert_eq!(got[*field]["id"], *id, "{got}");
        assert_eq!(got["sequence"], i as i64 + 1);
    }
    let got = ws.activity("k").await;
    assert_eq!(got["kind"], "PROGRESS_RESET");
    assert_eq!(got["streak"], json!({ "current": 0, "longest": 0 }));
}

async fn resume_replays_what_was_missed_then_continues_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("live-resume").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("r", ACTIVITY, json!({ "l": learner, "after": start() })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    record(&app, None, &learner, "before-1").await;
    let first = ws.activity("r").await;
    assert_eq!(first["sequence"], 1);
    let cursor = first["cursor"].as_str().expect("cursor").to_owned();
    // The network drops; the learner goes on.
    drop(ws);
    for i in 0..4 {
        record(&app, None, &learner, &format!("while-away-{i}")).await;
    }
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("r2", ACTIVITY, json!({ "l": learner, "after": cursor })).await;
    // Sequence 2 is the STREAK of the first attempt (delivered before the drop, but not read).
    let mut seen = vec![];
    for _ in 0..5 {
        seen.push(ws.activity("r2").await);
    }
    let sequences: Vec<i64> = seen.iter().map(|a| a["sequence"].as_i64().expect("seq")).collect();
    assert_eq!(sequences, vec![2, 3, 4, 5, 6]);
    let exercises: Vec<&str> = seen.iter().filter_map(|a| a["attempt"]["exerciseId"].as_str()).collect();
    assert_eq!(exercises, vec!["while-away-0", "while-away-1", "while-away-2", "while-away-3"]);
    // Live again, with no repeat at the seam.
    record(&app, None, &learner, "after").await;
    let next = ws.activity("r2").await;
    assert_eq!((next["sequence"].as_i64(), next["attempt"]["exerciseId"].as_str()), (Some(7), Some("after")));

    // A cursor from nowhere, and one past the learner's last activity, are bad input.
    ws.subscribe("bad", ACTIVITY, json!({ "l": learner, "after": "nonsense" })).await;
    let error = ws.json().await;
    assert_eq!((error["type"].as_str(), error["id"].as_str()), (Some("error"), Some("bad")), "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let future = learngraph::graphql::live::cursor(99);
    ws.subscribe("bad2", ACTIVITY, json!({ "l": learner, "after": future })).await;
    let error = ws.json().await;
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{error}");
}

async fn kinds_filter_and_an_expired_cursor(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, learngraph::clock::Clock::System, |c| c.activity_retention_days = Some(1)).await;
    let learner = app.learner("live-expired").await;
    for i in 0..3 {
        record(&app, None, &learner, &format!("old-{i}")).await;
    }
    // Replay from the start, attempts only: three attempts, their sequence numbers skip the
    // STREAK item.
    let mut ws = Ws::ready(app.addr, None).await;
    let start = learngraph::graphql::live::cursor(0);
    ws.subscribe("f", ACTIVITY, json!({ "l": learner, "after": start, "kinds": ["ATTEMPT"] })).await;
    let got: Vec<i64> = {
        let mut v = vec![];
        for _ in 0..3 {
            v.push(ws.activity("f").await["sequence"].as_i64().expect("seq"));
        }
        v
    };
    assert_eq!(got, vec![1, 3, 4]);
    // Age the first two activities past the retention and sweep.
    use sea_orm::ConnectionTrait;
    let old = (chrono::Utc::now() - chrono::TimeDelta::days(3)).to_rfc3339();
    app.state
        .db
        .execute_unprepared(&match backend {
            Backend::Sqlite => format!("UPDATE activities SET occurred_at = '{old}' WHERE seq <= 2"),
            Backend::Postgres => format!("UPDATE activities SET occurred_at = '{old}'::timestamptz WHERE seq <= 2"),
        })
        .await
        .expect("age");
    let policy = learngraph::store::retention::Policy::from_config(&app.state.config);
    let report =
        learngraph::store::retention::sweep(&app.state.db, &app.state.write_gate, &policy, chrono::Utc::now(), false)
            .await
            .expect("sweep");
    assert!(report.to_string().contains("activities"), "{report}");
    assert_eq!(app.count_rows("activities", None).await, 2);
    ws.subscribe("x", ACTIVITY, json!({ "l": learner, "after": learngraph::graphql::live::cursor(1) })).await;
    let error = ws.json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "CURSOR_EXPIRED", "{error}");
    // From the newest kept one, resume works.
    ws.subscribe("ok", ACTIVITY, json!({ "l": learner, "after": learngraph::graphql::live::cursor(2) })).await;
    assert_eq!(ws.activity("ok").await["sequence"], 3);
}

async fn auth_failures_close_with_the_protocol_codes(backend: Backend) {
    let app = TestApp::spawn_with(backend, learngraph::clock::Clock::System, |c| {
        c.jwt_secret = Some(Secret::new(SECRET));
        c.ws_init_timeout_secs = 1;
    })
    .await;
    let staff = app.token("ops", Role::Staff);
    let (status, created) = app
        .post(
            Some(&staff),
            json!({ "query": "mutation { a: ensureLearner(input: { externalId: \"kid-a\" }) { learner { id } } b: ensureLearner(input: { externalId: \"kid-b\" }) { learner { id } } }" }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let a = created["data"]["a"]["learner"]["id"].as_str().expect("a").to_owned();
    let b = created["data"]["b"]["learner"]["id"].as_str().expect("b").to_owned();

    // A bad token, and none at all, are refused with 4403.
    let mut ws = Ws::open(app.addr, None).await;
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } })).await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("invalid token"), "{reason}");
    let mut ws = Ws::open(app.addr, None).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4403);
    // Subscribing before the acknowledgement: 4401.
    let mut ws = Ws::open(app.addr, None).await;
    ws.subscribe("1", ACTIVITY, json!({ "l": a })).await;
    assert_eq!(ws.closed().await.0, 4401);
    // No connection_init within the timeout: 4408.
    let mut ws = Ws::open(app.addr, None).await;
    let (code, reason) = ws.closed().await;
    assert_eq!((code, reason.as_str()), (4408, "Connection initialisation timeout"));
    // Not the protocol: 4400; a second init: 4429; a running id again: 4409.
    let kid = app.token("kid-a", Role::Learner);
    let mut ws = Ws::ready(app.addr, Some(&kid)).await;
    ws.send(json!({ "type": "hello" })).await;
    assert_eq!(ws.closed().await.0, 4400);
    let mut ws = Ws::ready(app.addr, Some(&kid)).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4429);
    let mut ws = Ws::ready(app.addr, Some(&kid)).await;
    ws.subscribe("same", ACTIVITY, json!({ "l": a })).await;
    ws.subscribe("same", ACTIVITY, json!({ "l": a })).await;
    assert_eq!(ws.closed().await.0, 4409);
    // A client that does not speak graphql-transport-ws: 4406.
    let mut ws = Ws::try_open(app.addr, None, None).await.expect("handshake");
    assert_eq!(ws.closed().await.0, 4406);

    // A learner token reaches only itself: another learner and a missing one get one answer.
    let mut ws = Ws::ready(app.addr, Some(&kid)).await;
    ws.subscribe("other", ACTIVITY, json!({ "l": b })).await;
    let refused = ws.json().await;
    let missing_id = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Learner:{}", uuid::Uuid::new_v4().simple()))
    };
    ws.subscribe("missing", ACTIVITY, json!({ "l": missing_id })).await;
    let missing = ws.json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(first_code(&json!({ "errors": refused["payload"] })), "FORBIDDEN");
    assert_eq!(refused["payload"][0]["message"], missing["payload"][0]["message"]);
    assert_eq!(refused["payload"][0]["extensions"], missing["payload"][0]["extensions"]);
    // Its own learner works, and so does a token in the upgrade request's header.
    ws.subscribe("own", ACTIVITY, json!({ "l": a, "after": start() })).await;
    let mut by_header = Ws::open(app.addr, Some(&format!("Bearer {kid}"))).await;
    by_header.send(json!({ "type": "connection_init" })).await;
    assert_eq!(by_header.json().await["type"], "connection_ack");
    by_header.subscribe("h", ACTIVITY, json!({ "l": a, "after": start() })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    record(&app, Some(&kid), &a, "own").await;
    assert_eq!(ws.activity("own").await["attempt"]["exerciseId"], "own");
    assert_eq!(by_header.activity("h").await["attempt"]["exerciseId"], "own");

    // A staff subscription is in the learner's access log.
    let mut ops = Ws::ready(app.addr, Some(&staff)).await;
    ops.subscribe("s", ACTIVITY, json!({ "l": b })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, log) = app
        .post(
            Some(&staff),
            json!({ "query": "query($l: ID!) { accessLog(learnerId: $l) { nodes { actor operationName fields } } }", "variables": { "l": b } }),
        )
        .await;
    let entries = log["data"]["accessLog"]["nodes"].as_array().expect("entries").clone();
    assert!(entries.iter().any(|e| e["fields"] == json!(["learnerActivity"]) && e["actor"] == "ops"), "{log}");
}

async fn connection_and_subscription_limits(backend: Backend) {
    let app = TestApp::spawn_with(backend, learngraph::clock::Clock::System, |c| {
        c.max_ws_connections = 2;
        c.max_subscriptions_per_connection = 2;
    })
    .await;
    let learner = app.learner("live-limits").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("1", ACTIVITY, json!({ "l": learner })).await;
    ws.subscribe("2", ACTIVITY, json!({ "l": learner, "after": start() })).await;
    ws.subscribe("3", ACTIVITY, json!({ "l": learner })).await;
    let refused = ws.json().await;
    assert_eq!((refused["type"].as_str(), refused["id"].as_str()), (Some("error"), Some("3")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
    // Completing one makes room.
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    ws.subscribe("3", ACTIVITY, json!({ "l": learner, "kinds": ["STREAK"], "after": start() })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    record(&app, None, &learner, "x").await;
    let mut got = vec![];
    for _ in 0..3 {
        let m = ws.json().await;
        assert_eq!(m["type"], "next", "{m}");
        got.push((m["id"].as_str().expect("id").to_owned(), m["payload"]["data"]["learnerActivity"]["kind"].clone()));
    }
    got.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.to_string().cmp(&y.1.to_string())));
    assert_eq!(
        got,
        vec![("2".to_owned(), json!("ATTEMPT")), ("2".to_owned(), json!("STREAK")), ("3".to_owned(), json!("STREAK")),]
    );
    // Two connections are the most; a third is refused before the upgrade.
    let _second = Ws::ready(app.addr, None).await;
    match Ws::try_open(app.addr, Some("graphql-transport-ws"), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected HTTP 503, got {:?}", other.map(|_| "a connection")),
    }
    // A closed connection frees its place.
    drop(ws);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(ws) = Ws::try_open(app.addr, Some("graphql-transport-ws"), None).await {
            third = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(third.is_some(), "a place frees up when a connection closes");
}

async fn two_hundred_subscribers_receive_a_burst_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let learner = app.learner("live-burst").await;
    let mut clients = vec![];
    for _ in 0..200 {
        let mut ws = Ws::ready(app.addr, None).await;
        ws.subscribe("b", ACTIVITY, json!({ "l": learner, "kinds": ["ATTEMPT"], "after": start() })).await;
        clients.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // 100 attempts from 10 concurrent writers.
    let mut writers = tokio::task::JoinSet::new();
    let url = app.url("/graphql");
    for w in 0..10 {
        let (url, learner) = (url.clone(), learner.clone());
        writers.spawn(async move {
            let client = crate::common::http_client();
            for i in 0..10 {
                let body = json!({
                    "query": "mutation($l: ID!, $e: String!) { recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: true }) { attempt { id } } }",
                    "variables": { "l": learner, "e": format!("w{w}-{i}") },
                });
                let res = client.post(&url).json(&body).send().await.expect("post");
                assert_eq!(res.status(), 200);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut seen = vec![];
                for _ in 0..100 {
                    let a = ws.activity("b").await;
                    seen.push((
                        a["sequence"].as_i64().expect("seq"),
                        a["attempt"]["exerciseId"].as_str().expect("ex").to_owned(),
                    ));
                }
                seen
            })
        })
        .collect();
    let mut first: Option<Vec<(i64, String)>> = None;
    for reader in readers {
        let seen = reader.await.expect("reader");
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "in commit order");
        let mut exercises: Vec<&String> = seen.iter().map(|s| &s.1).collect();
        exercises.sort();
        exercises.dedup();
        assert_eq!(exercises.len(), 100, "every attempt once");
        match &first {
            None => first = Some(seen),
            Some(f) => assert_eq!(f, &seen, "every subscriber sees the same order"),
        }
    }
}

async fn shutdown_closes_sockets_as_going_away(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let learner = app.learner("live-shutdown").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("s", ACTIVITY, json!({ "l": learner })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    app.restart().await;
    let (code, reason) = ws.closed().await;
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown waited {:?}", started.elapsed());
}

async fn a_subscriber_that_stops_reading_is_ended_and_resumes(backend: Backend) {
    const ANSWER_CHARS: usize = 10_000;
    const BURST: usize = 60;
    let app = TestApp::spawn_with(backend, learngraph::clock::Clock::System, |c| c.live_buffer = 4).await;
    let learner = app.learner("live-slow").await;
    // A client with a small receive window, so that the server's sends block once it stops reading.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let tcp = socket.connect(app.addr).await.expect("connect");
    let mut request = format!("ws://{}/graphql", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (stream, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await.expect("handshake");
    let mut ws = Ws { stream };
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.json().await["type"], "connection_ack");
    // Each item carries its answer 16 times (160 kB): the burst is far more than the kernel buffers.
    let copies: Vec<String> = (0..16).map(|i| format!("c{i}: attempt {{ userAnswer }}")).collect();
    let query = format!(
        "subscription($l: ID!, $after: String) {{ learnerActivity(learnerId: $l, after: $after, kinds: [ATTEMPT]) {{ sequence cursor attempt {{ exerciseId }} {} }} }}",
        copies.join(" ")
    );
    let query = query.as_str();
    ws.subscribe("slow", query, json!({ "l": learner })).await;
    // Live from here on: a probe arrives.
    let mut probe = None;
    for i in 0..50 {
        record(&app, None, &learner, &format!("probe-{i}")).await;
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), ws.json()).await {
            probe = Some(m);
            break;
        }
    }
    let probe = probe.expect("a probe delivered");
    let mut seen: Vec<String> =
        vec![probe["payload"]["data"]["learnerActivity"]["attempt"]["exerciseId"].as_str().expect("ex").to_owned()];
    // The client stops reading while a burst of large items is written.
    let answer = "x".repeat(ANSWER_CHARS);
    for batch in 0..BURST / 20 {
        let fields: Vec<String> = (0..20)
            .map(|i| format!("a{i}: recordAttempt(input: {{ learnerId: $l, exerciseId: \"burst-{}\", isCorrect: true, userAnswer: $u }}) {{ attempt {{ id }} }}", batch * 20 + i))
            .collect();
        let mutation = format!("mutation($l: ID!, $u: String!) {{ {} }}", fields.join(" "));
        let (status, body) =
            app.post(None, json!({ "query": mutation, "variables": { "l": learner, "u": answer } })).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    // Now it reads: some items, then the end of the subscription with SLOW_SUBSCRIBER.
    let mut ended = None;
    let mut last_cursor = probe["payload"]["data"]["learnerActivity"]["cursor"].as_str().expect("cursor").to_owned();
    loop {
        let m = ws.json().await;
        match m["type"].as_str() {
            Some("next") if m["payload"].get("errors").is_some() => {
                ended = Some(m["payload"]["errors"][0].clone());
            }
            Some("next") => {
                let a = &m["payload"]["data"]["learnerActivity"];
                assert_eq!(a["c15"]["userAnswer"].as_str().map(str::len), Some(ANSWER_CHARS));
                seen.push(a["attempt"]["exerciseId"].as_str().expect("ex").to_owned());
                last_cursor = a["cursor"].as_str().expect("cursor").to_owned();
            }
            Some("complete") => break,
            _ => panic!("unexpected {m}"),
        }
    }
    let error = ended.expect("the subscription ended with an error");
    assert_eq!(error["extensions"]["code"], "SLOW_SUBSCRIBER", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains(&format!("after: \"{last_cursor}\"")), "{message} names the cursor to resume from");
    // The probe is in `seen` too: count the burst alone (under load the end can come late).
    let delivered = seen.iter().filter(|e| e.starts_with("burst-")).count();
    assert!(delivered < BURST, "the server did not buffer the whole burst ({delivered} delivered)");
    // Resuming from that cursor delivers the rest, each once.
    ws.subscribe("again", query, json!({ "l": learner, "after": last_cursor })).await;
    while seen.iter().filter(|e| e.starts_with("burst-")).count() < BURST {
        let m = ws.json().await;
        assert_eq!(m["type"], "next", "{m}");
        assert!(m["payload"].get("errors").is_none(), "{m}");
        seen.push(m["payload"]["data"]["learnerActivity"]["attempt"]["exerciseId"].as_str().expect("ex").to_owned());
    }
    let burst: Vec<&String> = seen.iter().filter(|e| e.starts_with("burst-")).collect();
    let expected: Vec<String> = (0..BURST).map(|i| format!("burst-{i}")).collect();
    assert_eq!(burst, expected.iter().collect::<Vec<_>>(), "every item once, in order");
}

on_each_backend!(
    a_subscriber_that_stops_reading_is_ended_and_resumes,
    delivers_an_http_attempt_within_a_second,
    another_learners_activity_is_not_delivered,
    every_kind_of_write_is_an_activity,
    resume_replays_what_was_missed_then_continues_live,
    kinds_filter_and_an_expired_cursor,
    auth_failures_close_with_the_protocol_codes,
    connection_and_subscription_limits,
    two_hundred_subscribers_receive_a_burst_in_order,
    shutdown_closes_sockets_as_going_away,
);

/// Two server processes on one PostgreSQL database: a write through either reaches a subscriber
/// on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
async fn postgres_two_processes_deliver_each_others_writes() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (mut child, other, _) = crate::cli::serve(app.database_url());
    let other: std::net::SocketAddr = other.parse().expect("address");
    let learner = app.learner("two-replicas").await;
    // Subscribed here, written there.
    let mut here = Ws::ready(app.addr, None).await;
    here.subscribe("h", ACTIVITY, json!({ "l": learner, "kinds": ["ATTEMPT"], "after": start() })).await;
    let body = |exercise: &str| {
        json!({
            "query": "mutation($l: ID!, $e: String!) { recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: true }) { attempt { id } } }",
            "variables": { "l": learner, "e": exercise },
        })
    };
    let client = crate::common::http_client();
    let res = client.post(format!("http://{other}/graphql")).json(&body("via-other")).send().await.expect("post");
    assert_eq!(res.status(), 200);
    assert_eq!(here.activity("h").await["attempt"]["exerciseId"], "via-other");
    // Subscribed there (after catching up, so the next item comes live), written here.
    let mut there = Ws::ready(other, None).await;
    there.subscribe("t", ACTIVITY, json!({ "l": learner, "kinds": ["ATTEMPT"], "after": start() })).await;
    assert_eq!(there.activity("t").await["attempt"]["exerciseId"], "via-other");
    tokio::time::sleep(Duration::from_millis(200)).await;
    record(&app, None, &learner, "via-here").await;
    let sent = Instant::now();
    let got = there.activity("t").await;
    assert_eq!((got["attempt"]["exerciseId"].as_str(), got["sequence"].as_i64()), (Some("via-here"), Some(3)));
    assert!(sent.elapsed() < Duration::from_secs(1), "across replicas in {:?}", sent.elapsed());
    assert_eq!(here.activity("h").await["attempt"]["exerciseId"], "via-here");
    child.kill().ok();
    child.wait().ok();
}

/// The LISTEN connection is killed; the replica reconnects and catches up, so a write made while
/// it was away is still delivered, and so are the ones after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
async fn postgres_listener_recovers_after_its_backend_is_terminated() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn(Backend::Postgres).await;
    let learner = app.learner("listener-killed").await;
    let mut ws = Ws::ready(app.addr, None).await;
    ws.subscribe("l", ACTIVITY, json!({ "l": learner, "kinds": ["ATTEMPT"], "after": start() })).await;
    record(&app, None, &learner, "before").await;
    assert_eq!(ws.activity("l").await["attempt"]["exerciseId"], "before");
    let listener_pid = || async {
        let sql = format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{}'",
            learngraph::live::LISTENER_APPLICATION_NAME
        );
        let rows =
            app.state.db.query_all_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.expect("pids");
        rows.first().map(|r| r.try_get::<i32>("", "pid").expect("pid"))
    };
    let mut pid = None;
    for _ in 0..100 {
        pid = listener_pid().await;
        if pid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = pid.expect("the replica listens on one connection");
    app.state
        .db
        .execute_unprepared(&format!("SELECT pg_terminate_backend({pid})"))
        .await
        .expect("terminate the listener");
    record(&app, None, &learner, "while-reconnecting").await;
    assert_eq!(ws.activity("l").await["attempt"]["exerciseId"], "while-reconnecting");
    let mut again = None;
    for _ in 0..100 {
        again = listener_pid().await.filter(|p| *p != pid);
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a new LISTEN connection");
    record(&app, None, &learner, "after").await;
    assert_eq!(ws.activity("l").await["attempt"]["exerciseId"], "after");
}
