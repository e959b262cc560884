//! Streak correctness: local days, missed days, arrival order, concurrency, retries.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use futures_util::future::join_all;
use learngraph::clock::Clock;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, http_client};

crate::on_each_backend!(
    same_utc_day_is_two_local_days_in_auckland_and_in_los_angeles,
    different_utc_days_are_one_local_day_in_auckland_and_in_los_angeles,
    a_missed_day_restarts_the_streak_and_three_days_away_reads_zero,
    backdated_and_shuffled_attempts_give_the_same_streak_as_ordered_ones,
    sixty_four_concurrent_attempts_over_http_all_count,
    a_retried_attempt_returns_the_same_attempt_and_changes_no_total,
);

const RECORD: &str = "mutation($l: ID!, $at: DateTime, $key: String, $ok: Boolean = true) {
  recordAttempt(input: { learnerId: $l, exerciseId: \"ex\", isCorrect: $ok, occurredAt: $at, idempotencyKey: $key }) {
    attempt { id localDate } streak { current longest lastPracticeDate }
  }
}";
const STREAK: &str = "query($l: ID!) { learner(id: $l) { streak { current longest lastPracticeDate }
  progress { totalAttempts correctAttempts byDay(last: 7) { date attempts } } } }";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

async fn learner_in(app: &TestApp, ext: &str, tz: &str) -> String {
    let id = app.learner(ext).await;
    app.ok(
        "mutation($id: ID!, $tz: String) { updateLearner(input: { id: $id, timeZone: $tz }) { learner { id } } }",
        json!({ "id": id, "tz": tz }),
    )
    .await;
    id
}

async fn streak(app: &TestApp, id: &str) -> Value {
    app.ok(STREAK, json!({ "l": id })).await["learner"].clone()
}

async fn same_utc_day_is_two_local_days_in_auckland_and_in_los_angeles(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::fixed(at("2026-01-12T00:00:00Z")), |_| {}).await;
    let akl = learner_in(&app, "akl", "Pacific/Auckland").await;
    let lax = learner_in(&app, "lax", "America/Los_Angeles").await;
    let utc = learner_in(&app, "utc", "UTC").await;
    // Both instants are on 2026-01-10 in UTC.
    for l in [&akl, &lax, &utc] {
        for instant in ["2026-01-10T01:00:00Z", "2026-01-10T23:00:00Z"] {
            app.ok(RECORD, json!({ "l": l, "at": instant })).await;
        }
    }
    // Auckland (UTC+13): Jan 10 14:00 and Jan 11 12:00; today is Jan 12 there.
    let s = streak(&app, &akl).await;
    assert_eq!(s["streak"], json!({ "current": 2, "longest": 2, "lastPracticeDate": "2026-01-11" }));
    // Los Angeles (UTC-8): Jan 9 17:00 and Jan 10 15:00; today is Jan 11 there.
    let s = streak(&app, &lax).await;
    assert_eq!(s["streak"], json!({ "current": 2, "longest": 2, "lastPracticeDate": "2026-01-10" }));
    let days: Vec<(String, i64)> = s["progress"]["byDay"]
        .as_array()
        .expect("byDay")
        .iter()
        .map(|d| (d["date"].as_str().expect("date").to_owned(), d["attempts"].as_i64().expect("n")))
        .collect();
    assert_eq!(days.last(), Some(&("2026-01-11".to_owned(), 0)), "the window ends on the local today");
    assert!(days.contains(&("2026-01-09".to_owned(), 1)) && days.contains(&("2026-01-10".to_owned(), 1)));
    // In UTC both are one day, and Jan 11 was missed.
    let s = streak(&app, &utc).await;
    assert_eq!(s["streak"], json!({ "current": 0, "longest": 1, "lastPracticeDate": "2026-01-10" }));
}

async fn different_utc_days_are_one_local_day_in_auckland_and_in_los_angeles(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::fixed(at("2026-01-12T00:00:00Z")), |_| {}).await;
    let akl = learner_in(&app, "akl", "Pacific/Auckland").await;
    let lax = learner_in(&app, "lax", "America/Los_Angeles").await;
    // Auckland: Jan 11 01:00 and Jan 11 23:00 local, on two UTC days.
    for instant in ["2026-01-10T12:00:00Z", "2026-01-11T10:00:00Z"] {
        let r = app.ok(RECORD, json!({ "l": akl, "at": instant })).await;
        assert_eq!(r["recordAttempt"]["attempt"]["localDate"], "2026-01-11");
    }
    // Los Angeles: Jan 10 01:00 and Jan 10 23:00 local, on two UTC days.
    for instant in ["2026-01-10T09:00:00Z", "2026-01-11T07:00:00Z"] {
        let r = app.ok(RECORD, json!({ "l": lax, "at": instant })).await;
        assert_eq!(r["recordAttempt"]["attempt"]["localDate"], "2026-01-10");
    }
    assert_eq!(
        streak(&app, &akl).await["streak"],
        json!({ "current": 1, "longest": 1, "lastPracticeDate": "2026-01-11" })
    );
    assert_eq!(
        streak(&app, &lax).await["streak"],
        json!({ "current": 1, "longest": 1, "lastPracticeDate": "2026-01-10" })
    );
}

async fn a_missed_day_restarts_the_streak_and_three_days_away_reads_zero(b: Backend) {
    let clock = Clock::fixed(at("2026-03-01T12:00:00Z"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("daily").await;
    let mut last = Value::Null;
    for day in ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05"] {
        clock.set(at(&format!("{day}T12:00:00Z")));
        last = app.ok(RECORD, json!({ "l": l })).await["recordAttempt"]["streak"].clone();
    }
    assert_eq!(last, json!({ "current": 1, "longest": 3, "lastPracticeDate": "2026-03-05" }), "Mar 4 was missed");
    clock.set(at("2026-03-06T23:59:59Z"));
    assert_eq!(streak(&app, &l).await["streak"]["current"], 1, "yesterday still counts");
    clock.set(at("2026-03-08T12:00:00Z"));
    assert_eq!(
        streak(&app, &l).await["streak"],
        json!({ "current": 0, "longest": 3, "lastPracticeDate": "2026-03-05" }),
        "three days after the last practice"
    );
}

/// A deterministic shuffle, so a failure can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

async fn backdated_and_shuffled_attempts_give_the_same_streak_as_ordered_ones(b: Backend) {
    let today = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");
    let app = TestApp::spawn_with(b, Clock::fixed(at("2026-06-30T18:00:00Z")), |_| {}).await;
    for seed in 1..=3u64 {
        // Days within the last 40, some runs, ending at or near today.
        let mut offsets: Vec<u64> = (0..40).filter(|o| (o * 7 + seed * 13) % 5 != 0 || *o < 2).collect();
        let mut instants: Vec<String> = offsets
            .iter()
            .flat_map(|o| {
                let day = today - Days::new(*o);
                [format!("{day}T08:00:00Z"), format!("{day}T17:30:00Z")]
            })
            .collect();
        let ordered = app.learner(&format!("ordered{seed}")).await;
        let shuffled = app.learner(&format!("shuffled{seed}")).await;
        let mut chronological = instants.clone();
        chronological.sort();
        for i in &chronological {
            app.ok(RECORD, json!({ "l": ordered, "at": i })).await;
        }
        shuffle(&mut instants, seed);
        for i in &instants {
            app.ok(RECORD, json!({ "l": shuffled, "at": i })).await;
        }
        let a = streak(&app, &ordered).await;
        let b_ = streak(&app, &shuffled).await;
        assert_eq!(a, b_, "seed {seed}");
        // And both agree with the obvious count.
        offsets.sort();
        let current = offsets.iter().enumerate().take_while(|(i, o)| *i as u64 == **o).count();
        assert_eq!(a["streak"]["current"].as_u64(), Some(current as u64), "seed {seed}");
        assert_eq!(a["progress"]["totalAttempts"].as_u64(), Some(offsets.len() as u64 * 2));
    }
}

async fn sixty_four_concurrent_attempts_over_http_all_count(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("swarm").await;
    let client = http_client();
    let calls = (0..64).map(|i| {
        let (client, url, l) = (client.clone(), app.url("/graphql"), l.clone());
        async move {
            let body = json!({ "query": RECORD, "variables": { "l": l, "ok": i % 4 != 0 } });
            let res = client.post(url).json(&body).send().await.expect("send");
            (res.status().as_u16(), res.text().await.expect("text"))
        }
    });
    for (status, text) in join_all(calls).await {
        assert_eq!(status, 200);
        assert!(!text.to_lowercase().contains("locked"), "{text}");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    let s = streak(&app, &l).await;
    assert_eq!(s["progress"]["totalAttempts"], 64);
    assert_eq!(s["progress"]["correctAttempts"], 48);
    assert_eq!(s["progress"]["byDay"][6]["attempts"], 64);
    assert_eq!(s["streak"]["current"], 1);
    assert_eq!(s["streak"]["longest"], 1);
    assert_eq!(app.count_rows("attempts", None).await, 64);
    assert_eq!(app.count_rows("practice_days", None).await, 1, "one day, counted once");
}

async fn a_retried_attempt_returns_the_same_attempt_and_changes_no_total(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("retry").await;
    let backdated = (Utc::now() - TimeDelta::days(1)).to_rfc3339();
    let first = app.ok(RECORD, json!({ "l": l, "key": "attempt-1", "at": backdated })).await;
    let retries = (0..8).map(|_| app.ok(RECORD, json!({ "l": l, "key": "attempt-1", "at": backdated })));
    for r in join_all(retries).await {
        assert_eq!(r["recordAttempt"]["attempt"]["id"], first["recordAttempt"]["attempt"]["id"]);
        assert_eq!(r["recordAttempt"]["streak"], first["recordAttempt"]["streak"]);
    }
    let s = streak(&app, &l).await;
    assert_eq!(s["progress"]["totalAttempts"], 1);
    assert_eq!(s["streak"]["longest"], 1);
    assert_eq!(app.count_rows("attempts", None).await, 1);
}
