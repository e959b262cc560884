//! Learner details: preferences, interests, struggles, cognitive metrics, objectives, badges, and
//! the whole-profile sync.

use futures_util::future::join_all;
use learngraph::clock::Clock;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    a_preference_is_one_value_per_category_and_can_be_removed,
    interests_and_struggles_are_sets_kept_oldest_first,
    a_cognitive_metric_keeps_its_latest_value_and_its_history,
    objective_times_follow_the_status,
    objectives_list_the_attempts_that_name_them,
    a_badge_is_awarded_once_even_when_16_awards_race,
    sixteen_racing_preference_writes_leave_one_row,
    sync_merges_or_replaces_the_whole_detail_profile,
    a_sync_that_fails_half_way_changes_nothing,
    bad_detail_input_is_refused_and_changes_nothing,
    a_page_of_learners_loads_every_detail_list_in_one_statement_each,
);

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("instant")
}

const DETAILS: &str = "query($l: ID!) { learner(id: $l) {
  preferences { category value createdAt updatedAt } interests struggles
  cognitiveMetrics { taskName metrics recordedAt history { metrics recordedAt } }
  objectives { objectiveId status score details startedAt completedAt }
  badges { badgeId name details earnedAt }
} }";

async fn details(app: &TestApp, l: &str) -> Value {
    app.ok(DETAILS, json!({ "l": l })).await["learner"].clone()
}

const SET_PREFERENCE: &str = "mutation($l: ID!, $c: String!, $v: String!) {
  setPreference(input: { learnerId: $l, category: $c, value: $v }) { preference { category value createdAt updatedAt } }
}";

async fn a_preference_is_one_value_per_category_and_can_be_removed(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T10:00:00+00:00"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("prefs").await;
    let first = app.ok(SET_PREFERENCE, json!({ "l": l, "c": "learning_style", "v": "visual" })).await;
    assert_eq!(first["setPreference"]["preference"]["updatedAt"], "2026-05-01T10:00:00+00:00");
    clock.set(at("2026-05-02T10:00:00+00:00"));
    let second = app.ok(SET_PREFERENCE, json!({ "l": l, "c": "learning_style", "v": "auditory" })).await;
    assert_eq!(
        second["setPreference"]["preference"],
        json!({ "category": "learning_style", "value": "auditory", "createdAt": "2026-05-01T10:00:00+00:00", "updatedAt": "2026-05-02T10:00:00+00:00" })
    );
    app.ok(SET_PREFERENCE, json!({ "l": l, "c": "pace", "v": "slow" })).await;
    assert_eq!(app.count_rows("preferences", None).await, 2);
    let listed = details(&app, &l).await;
    let categories: Vec<&str> =
        listed["preferences"].as_array().expect("list").iter().map(|p| p["category"].as_str().expect("c")).collect();
    assert_eq!(categories, ["learning_style", "pace"], "by category");

    let remove = "mutation($l: ID!, $c: String!) { removePreference(input: { learnerId: $l, category: $c }) { changed learner { preferences { category } } } }";
    let removed = app.ok(remove, json!({ "l": l, "c": "pace" })).await;
    assert_eq!(
        removed["removePreference"],
        json!({ "changed": true, "learner": { "preferences": [{ "category": "learning_style" }] } })
    );
    let again = app.ok(remove, json!({ "l": l, "c": "pace" })).await;
    assert_eq!(again["removePreference"]["changed"], false, "removing a missing one is not an error");
    assert_eq!(app.count_rows("preferences", None).await, 1);
}

async fn interests_and_struggles_are_sets_kept_oldest_first(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T10:00:00+00:00"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("sets").await;
    let add = "mutation($l: ID!, $n: String!) { addInterest(input: { learnerId: $l, name: $n }) { changed learner { interests } } }";
    for (i, name) in ["zoology", "chess", "algebra"].iter().enumerate() {
        clock.set(at(&format!("2026-05-0{}T10:00:00Z", i + 1)));
        app.ok(add, json!({ "l": l, "n": name })).await;
    }
    let twice = app.ok(add, json!({ "l": l, "n": "chess" })).await;
    assert_eq!(
        twice["addInterest"],
        json!({ "changed": false, "learner": { "interests": ["zoology", "chess", "algebra"] } })
    );
    let remove = "mutation($l: ID!, $n: String!) { removeInterest(input: { learnerId: $l, name: $n }) { changed learner { interests } } }";
    let removed = app.ok(remove, json!({ "l": l, "n": "zoology" })).await;
    assert_eq!(removed["removeInterest"], json!({ "changed": true, "learner": { "interests": ["chess", "algebra"] } }));
    let missing = app.ok(remove, json!({ "l": l, "n": "zoology" })).await;
    assert_eq!(missing["removeInterest"]["changed"], false);

    let add = "mutation($l: ID!, $d: String!) { addStruggle(input: { learnerId: $l, description: $d }) { changed learner { struggles } } }";
    app.ok(add, json!({ "l": l, "d": "fractions" })).await;
    clock.set(at("2026-05-09T10:00:00+00:00"));
    app.ok(add, json!({ "l": l, "d": "  long division " })).await;
    let again = app.ok(add, json!({ "l": l, "d": "fractions" })).await;
    assert_eq!(
        again["addStruggle"],
        json!({ "changed": false, "learner": { "struggles": ["fractions", "long division"] } })
    );
    let remove =
        "mutation($l: ID!, $d: String!) { removeStruggle(input: { learnerId: $l, description: $d }) { changed } }";
    assert_eq!(app.ok(remove, json!({ "l": l, "d": "fractions" })).await["removeStruggle"]["changed"], true);
    assert_eq!(details(&app, &l).await["struggles"], json!(["long division"]));
    assert_eq!((app.count_rows("interests", None).await, app.count_rows("struggles", None).await), (2, 1));
}

async fn a_cognitive_metric_keeps_its_latest_value_and_its_history(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T10:00:00+00:00"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("metrics").await;
    let record = "mutation($l: ID!, $t: String!, $m: JSON!) { recordCognitiveMetric(input: { learnerId: $l, taskName: $t, metrics: $m }) { metric { taskName metrics recordedAt } } }";
    for (day, accuracy) in [(1, 0.5), (2, 0.6), (3, 0.8)] {
        clock.set(at(&format!("2026-05-0{day}T10:00:00Z")));
        app.ok(record, json!({ "l": l, "t": "working_memory", "m": { "accuracy": accuracy, "attempts": day } })).await;
    }
    app.ok(record, json!({ "l": l, "t": "attention", "m": { "score": 3 } })).await;
    let got = details(&app, &l).await;
    let metrics = got["cognitiveMetrics"].as_array().expect("list");
    assert_eq!(metrics.len(), 2, "one row per task");
    assert_eq!(metrics[0]["taskName"], "attention");
    let memory = &metrics[1];
    assert_eq!(memory["metrics"], json!({ "accuracy": 0.8, "attempts": 3 }));
    assert_eq!(memory["recordedAt"], "2026-05-03T10:00:00+00:00");
    let trend: Vec<f64> = memory["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["metrics"]["accuracy"].as_f64().expect("a"))
        .collect();
    assert_eq!(trend, [0.8, 0.6, 0.5], "newest first");
    let two = app
        .ok(
            "query($l: ID!) { learner(id: $l) { cognitiveMetrics { taskName history(first: 2) { recordedAt } } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(
        two["learner"]["cognitiveMetrics"][1]["history"],
        json!([{ "recordedAt": "2026-05-03T10:00:00+00:00" }, { "recordedAt": "2026-05-02T10:00:00+00:00" }])
    );
    assert_eq!(app.count_rows("cognitive_metrics", None).await, 2);
    assert_eq!(app.count_rows("cognitive_metric_records", None).await, 4);
}

const OBJECTIVE: &str = "mutation($l: ID!, $o: String!, $s: ObjectiveStatus!, $score: Float) {
  updateObjectiveProgress(input: { learnerId: $l, objectiveId: $o, status: $s, score: $score }) {
    objective { objectiveId status score startedAt completedAt }
  }
}";

async fn objective_times_follow_the_status(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T10:00:00+00:00"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("objectives").await;
    async fn step(app: &TestApp, clock: &Clock, l: &str, day: u32, status: &str, score: Value) -> Value {
        clock.set(at(&format!("2026-05-{day:02}T10:00:00Z")));
        let vars = json!({ "l": l, "o": "lo-1", "s": status, "score": score });
        app.ok(OBJECTIVE, vars).await["updateObjectiveProgress"]["objective"].clone()
    }
    let o = step(&app, &clock, &l, 1, "NOT_STARTED", Value::Null).await;
    assert_eq!((o["startedAt"].clone(), o["completedAt"].clone()), (Value::Null, Value::Null));
    let o = step(&app, &clock, &l, 2, "IN_PROGRESS", json!(0.4)).await;
    assert_eq!(o["startedAt"], "2026-05-02T10:00:00+00:00", "set when it first leaves NOT_STARTED");
    let o = step(&app, &clock, &l, 3, "COMPLETED", json!(0.9)).await;
    assert_eq!(
        o,
        json!({ "objectiveId": "lo-1", "status": "COMPLETED", "score": 0.9, "startedAt": "2026-05-02T10:00:00+00:00", "completedAt": "2026-05-03T10:00:00+00:00" })
    );
    let o = step(&app, &clock, &l, 4, "COMPLETED", Value::Null).await;
    assert_eq!(o["completedAt"], "2026-05-03T10:00:00+00:00", "staying COMPLETED keeps the first completion");
    assert_eq!(o["score"], 0.9, "a score left out stays");
    let o = step(&app, &clock, &l, 5, "IN_PROGRESS", Value::Null).await;
    assert_eq!(o["completedAt"], Value::Null, "cleared when it goes back");
    let o = step(&app, &clock, &l, 6, "NOT_STARTED", Value::Null).await;
    assert_eq!(o["startedAt"], "2026-05-02T10:00:00+00:00", "never moves after");
    let o = step(&app, &clock, &l, 7, "COMPLETED", Value::Null).await;
    assert_eq!(
        (o["startedAt"].clone(), o["completedAt"].clone()),
        (json!("2026-05-02T10:00:00+00:00"), json!("2026-05-07T10:00:00+00:00"))
    );
    let filtered = app
        .ok("query($l: ID!) { learner(id: $l) { done: objectives(status: COMPLETED) { objectiveId } open: objectives(status: IN_PROGRESS) { objectiveId } } }", json!({ "l": l }))
        .await;
    assert_eq!(filtered["learner"], json!({ "done": [{ "objectiveId": "lo-1" }], "open": [] }));
    assert_eq!(app.count_rows("objective_progress", None).await, 1);
}

async fn objectives_list_the_attempts_that_name_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("activities").await;
    let attempt = "mutation($l: ID!, $o: String, $e: String!, $c: Boolean) { recordAttempt(input: { learnerId: $l, exerciseId: $e, objectiveId: $o, activityType: \"quiz\", isCorrect: false, score: 0.5, completed: $c }) { attempt { id completed } } }";
    let mut ids = Vec::new();
    for i in 0..4 {
        let done = app.ok(attempt, json!({ "l": l, "o": "lo-1", "e": format!("q{i}"), "c": i % 2 == 0 })).await;
        ids.push(done["recordAttempt"]["attempt"]["id"].clone());
    }
    app.ok(attempt, json!({ "l": l, "o": "lo-2", "e": "other", "c": null })).await;
    app.ok(attempt, json!({ "l": l, "o": null, "e": "none", "c": null })).await;
    for o in ["lo-1", "lo-2"] {
        app.ok(OBJECTIVE, json!({ "l": l, "o": o, "s": "IN_PROGRESS" })).await;
    }
    let got = app
        .ok(
            "query($l: ID!) { learner(id: $l) { objectives { objectiveId attempts(first: 3) { id exerciseId activityType completed } } } }",
            json!({ "l": l }),
        )
        .await;
    let objectives = got["learner"]["objectives"].as_array().expect("list");
    let lo1: Vec<Value> = objectives[0]["attempts"].as_array().expect("a").iter().map(|a| a["id"].clone()).collect();
    assert_eq!(lo1, [ids[3].clone(), ids[2].clone(), ids[1].clone()], "newest first, at most `first`");
    assert_eq!(objectives[0]["attempts"][0]["completed"], false);
    assert_eq!(objectives[0]["attempts"][1]["completed"], true);
    assert_eq!(objectives[1]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(objectives[1]["attempts"][0]["completed"], Value::Null, "not said is null");
}

const AWARD: &str = "mutation($l: ID!, $b: String!, $n: String!) {
  awardBadge(input: { learnerId: $l, badgeId: $b, name: $n }) { badge { badgeId name earnedAt } newlyAwarded }
}";

async fn a_badge_is_awarded_once_even_when_16_awards_race(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("badges").await;
    let first = app.ok(AWARD, json!({ "l": l, "b": "streak-7", "n": "Week streak" })).await;
    let again = app.ok(AWARD, json!({ "l": l, "b": "streak-7", "n": "Other name" })).await;
    assert_eq!(first["awardBadge"]["newlyAwarded"], true);
    assert_eq!(again["awardBadge"]["newlyAwarded"], false);
    assert_eq!(again["awardBadge"]["badge"], first["awardBadge"]["badge"], "the first award stands");

    let token = None;
    let racing = (0..16).map(|_| {
        app.post(token, json!({ "query": AWARD, "variables": { "l": l, "b": "first-quiz", "n": "First quiz" } }))
    });
    let results = join_all(racing).await;
    let mut newly = 0;
    for (status, body) in &results {
        assert_eq!(*status, 200);
        assert!(body.get("errors").is_none(), "{body:#}");
        if body["data"]["awardBadge"]["newlyAwarded"] == true {
            newly += 1;
        }
    }
    assert_eq!(newly, 1, "exactly one of 16 racing awards is new");
    assert_eq!(app.count_rows("badges", None).await, 2);
}

async fn sixteen_racing_preference_writes_leave_one_row(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("racing").await;
    let writes = (0..16).map(|i| {
        app.post(None, json!({ "query": SET_PREFERENCE, "variables": { "l": l, "c": "theme", "v": format!("v{i}") } }))
    });
    let results = join_all(writes).await;
    for (status, body) in &results {
        assert_eq!(*status, 200);
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    assert_eq!(app.count_rows("preferences", None).await, 1);
    // Last write wins: each write returns the row it stored, and the row left is exactly the one
    // some write stored (a value and its own time, never a mix of two writes).
    let stored = details(&app, &l).await["preferences"][0].clone();
    let written: Vec<Value> =
        results.iter().map(|(_, body)| body["data"]["setPreference"]["preference"].clone()).collect();
    assert!(written.contains(&stored), "{stored} is one of {written:?}");
}

const SYNC: &str = "mutation($l: ID!, $mode: SyncProfileMode!, $p: [PreferenceEntry!], $i: [String!], $s: [String!], $m: [CognitiveMetricEntry!], $o: [ObjectiveEntry!], $b: [BadgeEntry!]) {
  syncLearnerProfile(input: { learnerId: $l, mode: $mode, preferences: $p, interests: $i, struggles: $s, cognitiveMetrics: $m, objectives: $o, badges: $b }) {
    learner { id }
  }
}";

fn profile(l: &str, mode: &str) -> Value {
    json!({
        "l": l, "mode": mode,
        "p": [{ "category": "style", "value": "visual" }, { "category": "pace", "value": "slow" }],
        "i": ["chess", "maths"], "s": ["fractions"],
        "m": [{ "taskName": "memory", "metrics": { "accuracy": 0.7 } }],
        "o": [{ "objectiveId": "lo-1", "status": "COMPLETED", "score": 1.0 }, { "objectiveId": "lo-2", "status": "IN_PROGRESS" }],
        "b": [{ "badgeId": "b1", "name": "First" }],
    })
}

async fn sync_merges_or_replaces_the_whole_detail_profile(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("sync").await;
    app.ok(SYNC, profile(&l, "MERGE")).await;
    let full = details(&app, &l).await;
    assert_eq!(full["interests"], json!(["chess", "maths"]));
    assert_eq!(full["objectives"].as_array().map(Vec::len), Some(2));
    assert!(full["objectives"][0]["completedAt"].is_string());
    // Syncing the same profile again adds no metric record: the value did not change.
    app.ok(SYNC, profile(&l, "MERGE")).await;
    assert_eq!(app.count_rows("cognitive_metric_records", None).await, 1);

    let merged = json!({ "l": l, "mode": "MERGE", "i": ["art"], "p": [{ "category": "style", "value": "auditory" }] });
    app.ok(SYNC, merged).await;
    let after = details(&app, &l).await;
    assert_eq!(after["interests"], json!(["chess", "maths", "art"]), "MERGE keeps what is not listed");
    assert_eq!(after["preferences"].as_array().map(Vec::len), Some(2));
    assert_eq!(after["badges"][0]["badgeId"], "b1");

    let replaced = json!({ "l": l, "mode": "REPLACE", "i": ["maths"], "p": [{ "category": "pace", "value": "fast" }],
        "o": [{ "objectiveId": "lo-2", "status": "COMPLETED" }] });
    app.ok(SYNC, replaced).await;
    let after = details(&app, &l).await;
    assert_eq!(after["interests"], json!(["maths"]));
    assert_eq!(
        after["preferences"].as_array().expect("p").iter().map(|p| p["value"].clone()).collect::<Vec<_>>(),
        [json!("fast")]
    );
    assert_eq!(after["struggles"], json!([]), "a list left out counts as empty under REPLACE");
    assert_eq!(after["cognitiveMetrics"], json!([]));
    assert_eq!(after["badges"], json!([]));
    assert_eq!(after["objectives"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["objectives"][0]["objectiveId"], "lo-2");
    assert_eq!(app.count_rows("cognitive_metric_records", None).await, 0, "a removed metric takes its history");
}

async fn a_sync_that_fails_half_way_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("atomic").await;
    app.ok(SYNC, profile(&l, "MERGE")).await;
    let before = details(&app, &l).await;
    let mut bad = profile(&l, "REPLACE");
    bad["i"] = json!(["new-interest"]);
    bad["o"] = json!([{ "objectiveId": "lo-3", "status": "COMPLETED", "score": 0.5 }, { "objectiveId": "lo-4", "status": "COMPLETED", "score": 7 }]);
    let response = app.exec_as(learngraph::auth::Viewer::Open, SYNC, bad).await;
    assert_eq!(crate::common::first_code(&response), "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["field"], "objectives[1].score");
    // Past validation, a failure inside the transaction (more interests than a learner may have,
    // after the REPLACE deletes ran) rolls everything back too.
    let mut too_many = profile(&l, "REPLACE");
    too_many["i"] = json!([]);
    too_many["p"] = json!((0..100).map(|i| json!({ "category": format!("c{i}"), "value": "v" })).collect::<Vec<_>>());
    let ok = app.exec_as(learngraph::auth::Viewer::Open, SYNC, too_many).await;
    assert!(ok.get("errors").is_none(), "100 preferences fit: {ok:#}");
    let mut over = profile(&l, "MERGE");
    over["p"] = json!([{ "category": "one-more", "value": "v" }]);
    over["i"] = json!(["added-before-the-failure"]);
    let response = app.exec_as(learngraph::auth::Viewer::Open, SYNC, over).await;
    assert_eq!(crate::common::first_code(&response), "BAD_USER_INPUT");
    let after = details(&app, &l).await;
    assert_eq!(after["interests"], json!([]), "nothing of the failed sync was stored");
    assert_eq!(after["preferences"].as_array().map(Vec::len), Some(100));
    assert_ne!(before, after);
}

async fn bad_detail_input_is_refused_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::System, |c| c.max_json_bytes = 1_000).await;
    let l = app.learner("bad").await;
    let long = "x".repeat(129);
    for (what, query, vars) in [
        ("empty category", SET_PREFERENCE, json!({ "l": l, "c": " ", "v": "v" })),
        ("long category", SET_PREFERENCE, json!({ "l": l, "c": long, "v": "v" })),
        (
            "long task",
            "mutation($l: ID!, $t: String!) { recordCognitiveMetric(input: { learnerId: $l, taskName: $t, metrics: {} }) { metric { taskName } } }",
            json!({ "l": l, "t": long }),
        ),
        (
            "big metrics",
            "mutation($l: ID!, $m: JSON!) { recordCognitiveMetric(input: { learnerId: $l, taskName: \"t\", metrics: $m }) { metric { taskName } } }",
            json!({ "l": l, "m": { "pad": "y".repeat(2_000) } }),
        ),
        ("empty objective", OBJECTIVE, json!({ "l": l, "o": "", "s": "IN_PROGRESS" })),
        ("score above 1", OBJECTIVE, json!({ "l": l, "o": "lo", "s": "IN_PROGRESS", "score": 1.5 })),
        ("negative score", OBJECTIVE, json!({ "l": l, "o": "lo", "s": "IN_PROGRESS", "score": -0.1 })),
        ("long badge", AWARD, json!({ "l": l, "b": long, "n": "n" })),
        ("empty badge name", AWARD, json!({ "l": l, "b": "b", "n": "" })),
    ] {
        assert_eq!(app.error_code(query, vars).await, "BAD_USER_INPUT", "{what}");
    }
    let missing = "TGVhcm5lcjowMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA"; // "Learner:" and a nil UUID
    assert_eq!(app.error_code(AWARD, json!({ "l": missing, "b": "b", "n": "n" })).await, "NOT_FOUND");
    for table in ["preferences", "cognitive_metrics", "cognitive_metric_records", "objective_progress", "badges"] {
        assert_eq!(app.count_rows(table, None).await, 0, "{table}");
    }
    // At most 100 of a kind per learner.
    let many = json!((0..100).map(|i| format!("i{i}")).collect::<Vec<_>>());
    app.ok(SYNC, json!({ "l": l, "mode": "MERGE", "i": many })).await;
    let add = "mutation($l: ID!) { addInterest(input: { learnerId: $l, name: \"one too many\" }) { changed } }";
    assert_eq!(app.error_code(add, json!({ "l": l })).await, "BAD_USER_INPUT");
    let again = "mutation($l: ID!) { addInterest(input: { learnerId: $l, name: \"i5\" }) { changed } }";
    assert_eq!(app.ok(again, json!({ "l": l })).await["addInterest"]["changed"], false, "an existing one is fine");
    assert_eq!(app.count_rows("interests", None).await, 100);
}

const PAGE: &str = "query($n: Int!) { learners(first: $n) { edges { node {
  preferences { category value } interests struggles
  cognitiveMetrics { taskName history(first: 2) { recordedAt } }
  objectives { objectiveId attempts(first: 2) { id } } badges { badgeId }
} } } }";

async fn a_page_of_learners_loads_every_detail_list_in_one_statement_each(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..20 {
        let l = app.learner(&format!("d{i}")).await;
        app.ok(SYNC, profile(&l, "MERGE")).await;
        app.ok(
            "mutation($l: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"e\", objectiveId: \"lo-1\", isCorrect: true }) { attempt { id } } }",
            json!({ "l": l }),
        )
        .await;
    }
    let count = |n: i32| {
        let app = &app;
        async move {
            let before = app.state.statements.get();
            let data = app.ok(PAGE, json!({ "n": n })).await;
            assert_eq!(data["learners"]["edges"].as_array().map(Vec::len), Some(n as usize));
            assert_eq!(
                data["learners"]["edges"][0]["node"]["objectives"][0]["attempts"].as_array().map(Vec::len),
                Some(1)
            );
            app.state.statements.get() - before
        }
    };
    let (five, twenty) = (count(5).await, count(20).await);
    assert_eq!(five, twenty, "statements for 5 and 20 learners differ");
    // The page, six detail lists, metric history, objective attempts.
    assert_eq!(five, 9);
}
