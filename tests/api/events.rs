use futures_util::future::join_all;
use serde_json::json;

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    events_read_newest_first_by_occurred_at_with_filters_and_pages,
    a_retried_idempotency_key_returns_the_first_event,
    future_occurred_at_is_bad_input,
    concurrent_writers_lose_no_event,
    retention_is_off_by_default_and_deletes_only_when_set,
    an_event_cannot_name_another_learners_goal,
);

const LOG: &str = "mutation($l: ID!, $g: ID, $k: String!, $p: JSON, $at: DateTime, $key: String) {
  logEvent(input: { learnerId: $l, goalId: $g, kind: $k, payload: $p, occurredAt: $at, idempotencyKey: $key }) {
    event { id kind payload occurredAt }
  }
}";

async fn events_read_newest_first_by_occurred_at_with_filters_and_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("ev").await;
    let g = json!(app.goal(&l).await);
    // Logged out of order: the log reads by occurredAt.
    for (kind, at, goal) in [
        ("b", "2026-01-02T00:00:00Z", json!(null)),
        ("a", "2026-01-01T00:00:00Z", g.clone()),
        ("c", "2026-01-03T00:00:00.5Z", g.clone()),
        ("a", "2026-01-04T00:00:00Z", json!(null)),
    ] {
        app.ok(LOG, json!({ "l": l, "k": kind, "at": at, "g": goal, "p": { "n": kind } })).await;
    }
    let q = "query($first: Int!, $after: String, $kind: String, $goal: ID) { learner(externalId: \"ev\") {
        events(first: $first, after: $after, kind: $kind, goalId: $goal) {
          edges { node { kind occurredAt goal { id } } } pageInfo { hasNextPage endCursor } } } }";
    let page1 = app.ok(q, json!({ "first": 3 })).await;
    let kinds: Vec<&str> = page1["learner"]["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["a", "c", "b"]);
    assert_eq!(page1["learner"]["events"]["edges"][1]["node"]["occurredAt"], "2026-01-03T00:00:00.500+00:00");
    assert_eq!(page1["learner"]["events"]["pageInfo"]["hasNextPage"], true);
    let after = page1["learner"]["events"]["pageInfo"]["endCursor"].clone();
    let page2 = app.ok(q, json!({ "first": 3, "after": after })).await;
    assert_eq!(page2["learner"]["events"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(page2["learner"]["events"]["edges"][0]["node"]["kind"], "a");
    assert_eq!(page2["learner"]["events"]["pageInfo"]["hasNextPage"], false);

    let only_a = app.ok(q, json!({ "first": 10, "kind": "a" })).await;
    assert_eq!(only_a["learner"]["events"]["edges"].as_array().map(Vec::len), Some(2));
    let on_goal = app.ok(q, json!({ "first": 10, "goal": g })).await;
    let goal_kinds: Vec<&str> = on_goal["learner"]["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(goal_kinds, ["c", "a"]);
    assert_eq!(on_goal["learner"]["events"]["edges"][0]["node"]["goal"]["id"], g);
}

async fn a_retried_idempotency_key_returns_the_first_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("idem").await;
    let first = app.ok(LOG, json!({ "l": l, "k": "answer", "key": "req-1", "p": { "v": 1 } })).await;
    let retry = app.ok(LOG, json!({ "l": l, "k": "answer", "key": "req-1", "p": { "v": 2 } })).await;
    assert_eq!(first["logEvent"]["event"], retry["logEvent"]["event"]);
    assert_eq!(retry["logEvent"]["event"]["payload"], json!({ "v": 1 }));
    assert_eq!(app.count_rows("events", None).await, 1);
    // Concurrent retries of one key also store one event.
    let same = (0..8).map(|_| app.ok(LOG, json!({ "l": l, "k": "answer", "key": "req-2" })));
    let results = join_all(same).await;
    let ids: std::collections::HashSet<String> =
        results.iter().map(|r| r["logEvent"]["event"]["id"].as_str().expect("id").to_owned()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count_rows("events", None).await, 2);
}

async fn future_occurred_at_is_bad_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("future").await;
    let at = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    assert_eq!(app.error_code(LOG, json!({ "l": l, "k": "x", "at": at })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(LOG, json!({ "l": l, "k": "" })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(LOG, json!({ "l": l, "k": "x", "at": "yesterday" })).await, "BAD_USER_INPUT");
    // PostgreSQL cannot store NUL; both engines refuse it the same way.
    assert_eq!(app.error_code(LOG, json!({ "l": l, "k": "x", "p": { "note": "a\u{0}b" } })).await, "BAD_USER_INPUT");
    assert_eq!(app.count_rows("events", None).await, 0);
}

async fn concurrent_writers_lose_no_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("busy").await;
    let writes = (0..48).map(|i| app.ok(LOG, json!({ "l": l, "k": "tick", "p": { "i": i } })));
    join_all(writes).await;
    assert_eq!(app.count_rows("events", None).await, 48);
}

async fn retention_is_off_by_default_and_deletes_only_when_set(b: Backend) {
    let old = (chrono::Utc::now() - chrono::TimeDelta::days(400)).to_rfc3339();
    let keep_all = TestApp::spawn(b).await;
    let l = keep_all.learner("r").await;
    keep_all.ok(LOG, json!({ "l": l, "k": "old", "at": old })).await;
    keep_all.ok(LOG, json!({ "l": l, "k": "new" })).await;
    assert_eq!(keep_all.count_rows("events", None).await, 2, "nothing is dropped by default");

    let limited = TestApp::spawn_with(b, Default::default(), |c| c.event_retention_days = Some(30)).await;
    let l = limited.learner("r").await;
    limited.ok(LOG, json!({ "l": l, "k": "old", "at": old })).await;
    limited.ok(LOG, json!({ "l": l, "k": "new" })).await;
    let kinds = limited.ok("{ learner(externalId: \"r\") { events { edges { node { kind } } } } }", json!({})).await;
    assert_eq!(kinds["learner"]["events"]["edges"], json!([{ "node": { "kind": "new" } }]));
}

async fn an_event_cannot_name_another_learners_goal(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.learner("a").await;
    let other = app.learner("b").await;
    let g = json!(app.goal(&other).await);
    assert_eq!(app.error_code(LOG, json!({ "l": a, "k": "x", "g": g })).await, "NOT_FOUND");
    assert_eq!(app.count_rows("events", None).await, 0);
}
