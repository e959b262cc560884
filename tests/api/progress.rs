//! Sessions, attempts, statistics and reset.

use serde_json::json;

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    sessions_count_their_attempts_and_end_once,
    attempts_filter_by_exercise_session_goal_and_time,
    reset_progress_removes_practice_data_and_nothing_else,
    bad_attempts_are_refused_and_change_nothing,
    by_day_window_is_bounded,
    resets_racing_attempts_leave_counters_equal_to_the_rows,
);

const START: &str =
    "mutation($l: ID!, $k: SessionKind!) { startSession(input: { learnerId: $l, kind: $k }) { session { id } } }";
const RECORD: &str = "mutation($l: ID!, $e: String!, $ok: Boolean!, $s: ID, $g: ID, $at: DateTime, $ms: Int) {
  recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: $ok, sessionId: $s, goalId: $g, occurredAt: $at, responseTimeMs: $ms, score: 0.5, details: { hint: true } }) {
    attempt { id exerciseId score details responseTimeMs session { id } goal { id } }
  }
}";

async fn session(app: &TestApp, l: &str, kind: &str) -> String {
    app.ok(START, json!({ "l": l, "k": kind })).await["startSession"]["session"]["id"].as_str().expect("id").to_owned()
}

async fn sessions_count_their_attempts_and_end_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("s").await;
    let s = session(&app, &l, "PRACTICE").await;
    for ok in [true, true, false] {
        let r = app.ok(RECORD, json!({ "l": l, "e": "q1", "ok": ok, "s": s, "ms": 1200 })).await;
        assert_eq!(r["recordAttempt"]["attempt"]["session"]["id"], json!(s));
        assert_eq!(r["recordAttempt"]["attempt"]["details"], json!({ "hint": true }));
    }
    let end = "mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { endedAt totalExercises correctAnswers accuracy } } }";
    let first = app.ok(end, json!({ "s": s })).await;
    let second = app.ok(end, json!({ "s": s })).await;
    assert_eq!(first, second, "ending twice returns the same session");
    let session = &first["endSession"]["session"];
    assert_eq!((session["totalExercises"].as_i64(), session["correctAnswers"].as_i64()), (Some(3), Some(2)));
    let listed = app
        .ok(
            "query($l: ID!) { learner(id: $l) { sessions(kind: PRACTICE) { edges { node { id attempts(first: 10) { edges { node { exerciseId } } } } } } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(
        listed["learner"]["sessions"]["edges"][0]["node"]["attempts"]["edges"].as_array().map(Vec::len),
        Some(3)
    );
}

async fn attempts_filter_by_exercise_session_goal_and_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("f").await;
    let s = session(&app, &l, "PRACTICE").await;
    let g = json!(app.goal(&l).await);
    for (e, at, in_session, goal) in [
        ("a", "2026-02-01T10:00:00Z", true, true),
        ("b", "2026-02-02T10:00:00Z", false, true),
        ("a", "2026-02-03T10:00:00Z", false, false),
        ("c", "2026-02-04T10:00:00Z", true, false),
    ] {
        let s = if in_session { json!(s) } else { json!(null) };
        let g = if goal { g.clone() } else { json!(null) };
        app.ok(RECORD, json!({ "l": l, "e": e, "ok": true, "s": s, "g": g, "at": at })).await;
    }
    let q = "query($l: ID!, $e: String, $s: ID, $g: ID, $since: DateTime, $until: DateTime) { learner(id: $l) {
        attempts(first: 10, exerciseId: $e, sessionId: $s, goalId: $g, since: $since, until: $until) { edges { node { exerciseId occurredAt } } } } }";
    let ids = |v: serde_json::Value| -> Vec<String> {
        v["learner"]["attempts"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["occurredAt"].as_str().expect("at")[..10].to_owned())
            .collect()
    };
    assert_eq!(ids(app.ok(q, json!({ "l": l })).await), ["2026-02-04", "2026-02-03", "2026-02-02", "2026-02-01"]);
    assert_eq!(ids(app.ok(q, json!({ "l": l, "e": "a" })).await), ["2026-02-03", "2026-02-01"]);
    assert_eq!(ids(app.ok(q, json!({ "l": l, "s": s })).await), ["2026-02-04", "2026-02-01"]);
    assert_eq!(ids(app.ok(q, json!({ "l": l, "g": g })).await), ["2026-02-02", "2026-02-01"]);
    let window = json!({ "l": l, "since": "2026-02-02T10:00:00Z", "until": "2026-02-04T10:00:00Z" });
    assert_eq!(ids(app.ok(q, window).await), ["2026-02-03", "2026-02-02"], "since inclusive, until exclusive");
    // A backdated attempt does not move an exercise's lastAttemptAt back (exercise "a" was last
    // attempted on Feb 3).
    app.ok(RECORD, json!({ "l": l, "e": "a", "ok": false, "at": "2026-01-15T10:00:00Z" })).await;
    let stat = app
        .ok("query($l: ID!) { learner(id: $l) { progress { byExercise(exerciseId: \"a\") { attempts correct lastAttemptAt } } } }", json!({ "l": l }))
        .await;
    assert_eq!(
        stat["learner"]["progress"]["byExercise"],
        json!([{ "attempts": 3, "correct": 2, "lastAttemptAt": "2026-02-03T10:00:00+00:00" }])
    );
}

async fn reset_progress_removes_practice_data_and_nothing_else(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("r").await;
    let other = app.learner("other").await;
    for who in [&l, &other] {
        let s = session(&app, who, "PRACTICE").await;
        app.ok(RECORD, json!({ "l": who, "e": "a", "ok": true, "s": s })).await;
        app.ok(RECORD, json!({ "l": who, "e": "b", "ok": false })).await;
    }
    session(&app, &l, "CHAT").await;
    app.ok(
        "mutation($l: ID!) { createGoal(input: { learnerId: $l, title: \"keep\" }) { goal { id } } }",
        json!({ "l": l }),
    )
    .await;
    app.ok(
        "mutation($l: ID!) { logEvent(input: { learnerId: $l, kind: \"keep\" }) { event { id } } }",
        json!({ "l": l }),
    )
    .await;

    let reset = app
        .ok(
            "mutation($l: ID!) { resetProgress(input: { learnerId: $l }) { deletedAttempts deletedSessions
               learner { streak { current longest } progress { totalAttempts accuracy byExercise { exerciseId } } } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(reset["resetProgress"]["deletedAttempts"], 2);
    assert_eq!(reset["resetProgress"]["deletedSessions"], 1);
    assert_eq!(
        reset["resetProgress"]["learner"],
        json!({ "streak": { "current": 0, "longest": 0 }, "progress": { "totalAttempts": 0, "accuracy": null, "byExercise": [] } })
    );
    let kept = app
        .ok(
            "query($l: ID!) { learner(id: $l) { goals { title } events { edges { node { kind } } } sessions { edges { node { kind } } } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(kept["learner"]["goals"], json!([{ "title": "keep" }]));
    assert_eq!(kept["learner"]["events"]["edges"], json!([{ "node": { "kind": "keep" } }]));
    assert_eq!(
        kept["learner"]["sessions"]["edges"],
        json!([{ "node": { "kind": "CHAT" } }]),
        "chat history is not progress"
    );
    let untouched = app
        .ok(
            "query($l: ID!) { learner(id: $l) { progress { totalAttempts } streak { current } } }",
            json!({ "l": other }),
        )
        .await;
    assert_eq!(untouched["learner"], json!({ "progress": { "totalAttempts": 2 }, "streak": { "current": 1 } }));
}

async fn bad_attempts_are_refused_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("bad").await;
    let other = app.learner("someone").await;
    let foreign_session = session(&app, &other, "PRACTICE").await;
    let future = (chrono::Utc::now() + chrono::TimeDelta::minutes(30)).to_rfc3339();
    let cases = [
        (json!({ "l": l, "e": "a", "ok": true, "at": future }), "BAD_USER_INPUT"),
        (json!({ "l": l, "e": "", "ok": true }), "BAD_USER_INPUT"),
        (json!({ "l": l, "e": "a", "ok": true, "at": "1900-01-01T00:00:00Z" }), "BAD_USER_INPUT"),
        (json!({ "l": l, "e": "a", "ok": true, "ms": -5 }), "BAD_USER_INPUT"),
        (json!({ "l": l, "e": "a", "ok": true, "s": foreign_session }), "NOT_FOUND"),
        (json!({ "l": l, "e": "a", "ok": true, "s": l }), "BAD_USER_INPUT"),
    ];
    for (vars, code) in cases {
        assert_eq!(app.error_code(RECORD, vars.clone()).await, code, "{vars}");
    }
    assert_eq!(app.count_rows("attempts", None).await, 0);
    assert_eq!(app.count_rows("learner_progress", None).await, 0, "no counter moved");
    assert_eq!(app.count_rows("practice_days", None).await, 0);
}

async fn by_day_window_is_bounded(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("w").await;
    for last in [0, 367] {
        let code = app
            .error_code(
                "query($n: Int!) { learner(externalId: \"w\") { progress { byDay(last: $n) { date } } } }",
                json!({ "n": last }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
    let data = app.ok("{ learner(externalId: \"w\") { progress { byDay(last: 366) { attempts } } } }", json!({})).await;
    assert_eq!(data["learner"]["progress"]["byDay"].as_array().map(Vec::len), Some(366));
}

/// Resets interleaved with attempts: whatever order they commit in, no request fails (no
/// deadlock, no lock error) and the counters equal what the rows say.
async fn resets_racing_attempts_leave_counters_equal_to_the_rows(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("racer").await;
    let s = session(&app, &l, "PRACTICE").await;
    let reset = "mutation($l: ID!) { resetProgress(input: { learnerId: $l }) { deletedAttempts } }";
    let work = (0..80).map(|i| {
        let (app, l, s) = (&app, l.clone(), s.clone());
        async move {
            if i % 10 == 5 {
                app.exec_as(learngraph::auth::Viewer::Open, reset, json!({ "l": l })).await
            } else {
                // Some attempts name the session, which a reset may delete first: NOT_FOUND is
                // the right answer then; anything else is not.
                let session = if i % 2 == 0 { json!(s) } else { json!(null) };
                app.exec_as(
                    learngraph::auth::Viewer::Open,
                    RECORD,
                    json!({ "l": l, "e": format!("e{}", i % 3), "ok": i % 3 == 0, "s": session }),
                )
                .await
            }
        }
    });
    for r in futures_util::future::join_all(work).await {
        if let Some(errors) = r.get("errors") {
            assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{r:#}");
        }
    }
    let rows = app.count_rows("attempts", None).await;
    let read = app
        .ok(
            "query($l: ID!) { learner(id: $l) { progress { totalAttempts byDay(last: 1) { attempts } byExercise { attempts } } } }",
            json!({ "l": l }),
        )
        .await;
    let p = &read["learner"]["progress"];
    assert_eq!(p["totalAttempts"].as_i64(), Some(rows), "{read:#}");
    assert_eq!(p["byDay"][0]["attempts"].as_i64(), Some(rows));
    let per_exercise: i64 =
        p["byExercise"].as_array().expect("list").iter().map(|e| e["attempts"].as_i64().expect("n")).sum();
    assert_eq!(per_exercise, rows);
}
