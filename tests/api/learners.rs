use futures_util::future::join_all;
use serde_json::json;

use learngraph::store::registry::LEARNER_TABLES;

use crate::common::{Backend, TestApp, http_client, uuid_of};

crate::on_each_backend!(
    ensure_learner_creates_once_then_returns_the_same_learner,
    ensure_learner_is_race_safe_under_32_concurrent_calls,
    update_learner_validates_the_time_zone_and_changes_nothing_on_bad_input,
    update_learner_sets_and_clears_settings,
    bad_external_ids_are_rejected,
    delete_learner_erases_every_row_and_can_be_repeated,
    learners_connection_pages_with_cursors_and_searches,
    page_size_cursor_and_id_garbage_are_bad_input,
    node_resolves_every_kind_of_global_id,
    data_survives_a_server_restart,
);

const ENSURE: &str = "mutation($e: String!, $n: String) {
  ensureLearner(input: { externalId: $e, displayName: $n }) { learner { id externalId displayName timeZone } created }
}";

async fn ensure_learner_creates_once_then_returns_the_same_learner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let first = app.ok(ENSURE, json!({ "e": "user_7", "n": "Ann" })).await;
    let second = app.ok(ENSURE, json!({ "e": "user_7", "n": "Other name" })).await;
    assert_eq!(first["ensureLearner"]["created"], true);
    assert_eq!(second["ensureLearner"]["created"], false);
    assert_eq!(first["ensureLearner"]["learner"]["id"], second["ensureLearner"]["learner"]["id"]);
    assert_eq!(second["ensureLearner"]["learner"]["displayName"], "Ann", "ensure does not overwrite");
    assert_eq!(second["ensureLearner"]["learner"]["timeZone"], "UTC");
}

async fn ensure_learner_is_race_safe_under_32_concurrent_calls(b: Backend) {
    let app = TestApp::spawn(b).await;
    let client = http_client();
    let calls = (0..32).map(|_| {
        let client = client.clone();
        let url = app.url("/graphql");
        async move {
            let res = client
                .post(url)
                .json(&json!({ "query": ENSURE, "variables": { "e": "TestUser" } }))
                .send()
                .await
                .expect("send");
            res.json::<serde_json::Value>().await.expect("json")
        }
    });
    let results = join_all(calls).await;
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for r in &results {
        assert!(r.get("errors").is_none(), "{r:#}");
        if r["data"]["ensureLearner"]["created"] == true {
            created += 1;
        }
        ids.insert(r["data"]["ensureLearner"]["learner"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(created, 1, "exactly one call creates the learner");
    assert_eq!(ids.len(), 1, "every call returns the same learner");
    assert_eq!(app.count_rows("learners", None).await, 1);
}

const UPDATE: &str = "mutation($id: ID!, $tz: String, $bio: String, $theme: String) {
  updateLearner(input: { id: $id, timeZone: $tz, bio: $bio, settings: { theme: $theme } }) {
    learner { timeZone bio settings { theme preferredMeditationMinutes } }
  }
}";

async fn update_learner_validates_the_time_zone_and_changes_nothing_on_bad_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let id = app.learner("tz_user").await;
    let data = app.ok(UPDATE, json!({ "id": id, "tz": "Pacific/Auckland", "bio": "hi" })).await;
    assert_eq!(data["updateLearner"]["learner"]["timeZone"], "Pacific/Auckland");

    let code = app.error_code(UPDATE, json!({ "id": id, "tz": "Mars/Olympus", "bio": "changed" })).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let after = app.ok("query($id: ID!) { learner(id: $id) { timeZone bio } }", json!({ "id": id })).await;
    assert_eq!(after["learner"], json!({ "timeZone": "Pacific/Auckland", "bio": "hi" }), "nothing changed");
}

async fn update_learner_sets_and_clears_settings(b: Backend) {
    let app = TestApp::spawn(b).await;
    let id = app.learner("settings_user").await;
    let set = app
        .ok(
            "mutation($id: ID!) { updateLearner(input: { id: $id, settings: { theme: \"dark\", preferredMeditationMinutes: 10 } }) {
               learner { settings { theme preferredMeditationMinutes } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        set["updateLearner"]["learner"]["settings"],
        json!({ "theme": "dark", "preferredMeditationMinutes": 10 })
    );
    // theme explicitly null clears it; minutes, left out, stays.
    let cleared = app.ok(UPDATE, json!({ "id": id, "theme": null })).await;
    assert_eq!(
        cleared["updateLearner"]["learner"]["settings"],
        json!({ "theme": null, "preferredMeditationMinutes": 10 })
    );
    let code = app
        .error_code(
            "mutation($id: ID!) { updateLearner(input: { id: $id, settings: { preferredMeditationMinutes: 0 } }) { learner { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn bad_external_ids_are_rejected(b: Backend) {
    let app = TestApp::spawn(b).await;
    for bad in ["", "   ", &"x".repeat(129)] {
        assert_eq!(app.error_code(ENSURE, json!({ "e": bad })).await, "BAD_USER_INPUT", "{bad:?}");
    }
    assert_eq!(app.count_rows("learners", None).await, 0);
}

async fn delete_learner_erases_every_row_and_can_be_repeated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let id = app.learner("to_erase").await;
    let keep = app.learner("to_keep").await;
    for learner in [&id, &keep] {
        crate::fixtures::seed_every_table(&app, learner).await;
    }
    let uuid = uuid_of(&id);
    for table in LEARNER_TABLES {
        assert!(app.count_learner_rows(table, uuid).await > 0, "{} has rows before the erase", table.name);
    }

    let del = "mutation($id: ID!) { deleteLearner(input: { id: $id }) { deletedLearnerId } }";
    let data = app.ok(del, json!({ "id": id })).await;
    assert_eq!(data["deleteLearner"]["deletedLearnerId"], json!(id));
    for table in LEARNER_TABLES {
        assert_eq!(
            app.count_learner_rows(table, uuid).await,
            0,
            "{} still holds rows of the erased learner",
            table.name
        );
    }
    let gone = app.ok("query($id: ID!) { learner(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(gone["learner"], serde_json::Value::Null);
    // Repeating the erase is not an error.
    let again = app.ok(del, json!({ "id": id })).await;
    assert_eq!(again["deleteLearner"]["deletedLearnerId"], json!(id));
    // The other learner is untouched.
    let keep_uuid = uuid_of(&keep);
    for table in LEARNER_TABLES {
        assert!(app.count_learner_rows(table, keep_uuid).await > 0, "{} lost the other learner's rows", table.name);
    }
}

async fn learners_connection_pages_with_cursors_and_searches(b: Backend) {
    let app = TestApp::spawn(b).await;
    let names = ["alice", "bob", "carol", "dave", "erin"];
    for n in names {
        app.learner(n).await;
    }
    let page = "query($after: String, $search: String) {
      learners(first: 2, after: $after, search: $search) {
        edges { cursor node { externalId } } pageInfo { hasNextPage endCursor }
      }
    }";
    let mut seen = vec![];
    let mut after = serde_json::Value::Null;
    loop {
        let data = app.ok(page, json!({ "after": after })).await;
        let conn = &data["learners"];
        for e in conn["edges"].as_array().expect("edges") {
            seen.push(e["node"]["externalId"].as_str().expect("id").to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = names.iter().rev().map(|s| s.to_string()).collect();
    assert_eq!(seen, expected, "newest first, every learner exactly once");

    let found = app.ok(page, json!({ "search": "AR" })).await;
    assert_eq!(found["learners"]["edges"][0]["node"]["externalId"], "carol");
    assert_eq!(found["learners"]["edges"].as_array().map(Vec::len), Some(1));
    app.ok(
        "mutation($id: ID!) { updateLearner(input: { id: $id, displayName: \"ÉLODIE Ürün\" }) { learner { id } } }",
        json!({ "id": app.learner("elodie").await }),
    )
    .await;
    let folded = app.ok(page, json!({ "search": "élodie ü" })).await;
    assert_eq!(
        folded["learners"]["edges"][0]["node"]["externalId"], "elodie",
        "non-ASCII case folds alike on both engines"
    );
    let none = app.ok(page, json!({ "search": "%" })).await;
    assert_eq!(none["learners"]["edges"].as_array().map(Vec::len), Some(0), "LIKE wildcards are literal");
}

async fn page_size_cursor_and_id_garbage_are_bad_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("pager").await;
    for first in [0, 101, -1] {
        let code =
            app.error_code("query($f: Int) { learners(first: $f) { edges { cursor } } }", json!({ "f": first })).await;
        assert_eq!(code, "BAD_USER_INPUT", "first = {first}");
    }
    let code = app.error_code("{ learners(first: 5, after: \"not-a-cursor\") { edges { cursor } } }", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app.error_code("query($e: String!) { learner(externalId: $e) { id } }", json!({ "e": "a\u{0}b" })).await;
    assert_eq!(code, "BAD_USER_INPUT", "NUL is refused alike on both engines");
    for id in ["garbage", "R29hbDp4", ""] {
        let code = app.error_code("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(code, "BAD_USER_INPUT", "id {id:?}");
    }
}

async fn node_resolves_every_kind_of_global_id(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("noder").await;
    let g = json!(app.goal(&l).await);
    let e = app
        .ok("mutation($l: ID!) { logEvent(input: { learnerId: $l, kind: \"k\" }) { event { id } } }", json!({ "l": l }))
        .await["logEvent"]["event"]["id"]
        .clone();
    let s = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: CHAT }) { session { id } } }",
            json!({ "l": l }),
        )
        .await["startSession"]["session"]["id"]
        .clone();
    let a = app
        .ok(
            "mutation($l: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"x\", isCorrect: false }) { attempt { id } } }",
            json!({ "l": l }),
        )
        .await["recordAttempt"]["attempt"]["id"]
        .clone();
    for (id, typename) in [(json!(l), "Learner"), (g, "Goal"), (e, "LearnerEvent"), (s, "Session"), (a, "Attempt")] {
        let data = app.ok("query($id: ID!) { node(id: $id) { id __typename } }", json!({ "id": id })).await;
        assert_eq!(data["node"], json!({ "id": id, "__typename": typename }));
    }
}

async fn data_survives_a_server_restart(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let (status, body) = app.post(None, json!({ "query": ENSURE, "variables": { "e": "durable", "n": "Dee" } })).await;
    assert_eq!(status, 200, "{body}");
    app.restart().await;
    let (_, body) = app.post(None, json!({ "query": "{ learner(externalId: \"durable\") { displayName } }" })).await;
    assert_eq!(body["data"]["learner"]["displayName"], "Dee");
}
