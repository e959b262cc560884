//! The GraphQL spec as clients rely on it: response maps in the query's order, and a document of
//! several operations validated and limited for the selected one only, the schema describing itself.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, http_client};

crate::on_each_backend!(
    response_maps_keep_the_query_order,
    only_the_selected_operation_is_validated_and_limited,
    the_schema_describes_itself_and_downloads_as_sdl,
    list_objects_answer_their_scalars_as_the_executor_does,
);

/// POSTs and returns the raw body text (a JSON `Value` would not keep the order).
async fn raw(app: &TestApp, body: Value) -> String {
    let res = http_client().post(app.url("/graphql")).json(&body).send().await.expect("post");
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

/// The keys of the first object of `text` found after `after`, in order, one level deep.
fn order(text: &str, keys: &[&str]) -> Vec<usize> {
    keys.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("no key {k} in {text}"))).collect()
}

fn increasing(positions: &[usize]) -> bool {
    positions.windows(2).all(|w| w[0] < w[1])
}

async fn response_maps_keep_the_query_order(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("ordered").await;
    crate::fixtures::attempt(&app, &l, "e1", None, None).await;
    // Fields from different parts of the learner type, in an order unlike the type's.
    let text = raw(
        &app,
        json!({ "query": "query($l: ID!) { learner(id: $l) { streak { longest current } externalId progress { totalAttempts } displayName } }", "variables": { "l": l } }),
    )
    .await;
    assert!(
        increasing(&order(&text, &["streak", "longest", "current", "externalId", "progress", "displayName"])),
        "{text}"
    );
    // Aliases, a fragment spread and an inline fragment, in the middle.
    let text = raw(
        &app,
        json!({ "query": "query($l: ID!) { learner(id: $l) { z: externalId ...Goals ... on Learner { y: streak { current } } a: id } } fragment Goals on Learner { goals { id } attempts(first: 1) { nodes { isCorrect exerciseId } } }", "variables": { "l": l } }),
    )
    .await;
    assert!(increasing(&order(&text, &["z", "goals", "attempts", "isCorrect", "exerciseId", "y", "a"])), "{text}");
}

async fn only_the_selected_operation_is_validated_and_limited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let document = "query A { __typename } query B($n: Int!) { learners(first: $n) { nodes { ...L } } } fragment L on Learner { id }";
    let (status, body) = app.post(None, json!({ "query": document, "operationName": "A" })).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }), "the other operation's variable is its own");
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "B", "variables": { "n": 2 } })).await;
    assert_eq!(body["data"]["learners"]["nodes"], json!([]), "{body}");
    // B without its variable still fails, with the variable named.
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "B" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    // A too-costly operation next to the selected one does not count against it.
    let costly =
        "query A { __typename } query B { learners(first: 100) { nodes { attempts(first: 100) { nodes { id } } } } }";
    let (_, body) = app.post(None, json!({ "query": costly, "operationName": "A" })).await;
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    // A document that is invalid anywhere is still invalid (the selected operation's fragments).
    let (_, body) =
        app.post(None, json!({ "query": "query A { ...F } fragment F on Query { nope }", "operationName": "A" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
}

async fn the_schema_describes_itself_and_downloads_as_sdl(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = http_client().get(app.url("/graphql/schema.graphql")).send().await.expect("get");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().expect("type").starts_with("text/plain"));
    let sdl = res.text().await.expect("sdl");
    let stored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema.graphql")).expect("schema");
    assert_eq!(sdl, stored, "the download is the schema clients generate from");
    let (_, body) = app
        .post(
            None,
            json!({ "query": "{ __schema { description queryType { name } } s: __schema { d: description } }" }),
        )
        .await;
    let ours = learngraph::graphql::selection::SCHEMA_DESCRIPTION;
    assert_eq!(body["data"]["__schema"]["description"], ours, "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(body["data"]["s"]["d"], ours, "aliases too");
}

/// Attempts, sessions, journal entries and profiling answers answer their scalar fields without
/// the executor (`graphql::fast`); a directive sends an object through the executor whole. Both
/// must give the same response, field for field, in the same order.
async fn list_objects_answer_their_scalars_as_the_executor_does(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("leaves").await;
    crate::fixtures::seed_every_table(&app, &l).await;
    let session = crate::fixtures::start_session(&app, &l, "PRACTICE").await;
    app.ok(
        "mutation($l: ID!, $s: ID!) { recordAttempt(input: { learnerId: $l, sessionId: $s, exerciseId: \"e2\", isCorrect: false, \
         score: 0.25, responseTimeMs: 900, completed: false, userAnswer: \"7\", activityType: \"quiz\", objectiveId: \"lo-1\", \
         details: { hint: true } }) { attempt { id } } }",
        json!({ "l": l, "s": session }),
    )
    .await;
    app.ok("mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { id } } }", json!({ "s": session }))
        .await;
    let query = |extra: &str| {
        format!(
            "query($l: ID!) {{ learner(id: $l) {{ \
             attempts(first: 5) {{ edges {{ __typename cursor node {{ __typename id exerciseId activityType objectiveId isCorrect completed \
               score userAnswer responseTimeMs details occurredAt localDate createdAt session {{ id kind }} goal {{ id }} x: id {extra} }} {extra} }} \
               nodes {{ __typename id isCorrect {extra} }} }} \
             sessions(first: 5) {{ nodes {{ __typename id kind startedAt endedAt totalExercises correctAnswers accuracy \
               attempts(first: 2) {{ nodes {{ id }} }} {extra} }} }} \
             journalEntries(first: 5) {{ nodes {{ __typename id content moodTags source embeddingDimension createdAt updatedAt \
               followUps {{ question answer }} {extra} }} }} \
             profilingSessions {{ responses {{ __typename questionId selectedOption responseTimeMs answeredAt {extra} }} }} }} }}"
        )
    };
    let fast = raw(&app, json!({ "query": query(""), "variables": { "l": l } })).await;
    let executor = raw(&app, json!({ "query": query("__typename @include(if: true)"), "variables": { "l": l } })).await;
    assert_eq!(fast, executor);
    // And the answers are the data, not empty maps.
    let body: Value = serde_json::from_str(&fast).expect("json");
    let learner = &body["data"]["learner"];
    let attempt = &learner["attempts"]["edges"][0]["node"];
    assert_eq!(attempt["__typename"], "Attempt", "{body}");
    assert_eq!(attempt["exerciseId"], "e2", "{body}");
    assert_eq!(attempt["score"], 0.25, "{body}");
    assert_eq!(attempt["responseTimeMs"], 900, "{body}");
    assert_eq!(attempt["userAnswer"], "7", "{body}");
    assert_eq!(attempt["details"], json!({ "hint": true }), "{body}");
    assert_eq!(attempt["session"]["kind"], "PRACTICE", "{body}");
    assert_eq!(attempt["x"], attempt["id"], "{body}");
    let ended = &learner["sessions"]["nodes"][0];
    assert_eq!((ended["totalExercises"].clone(), ended["accuracy"].clone()), (json!(1), json!(0.0)), "{body}");
    assert!(ended["endedAt"].is_string(), "{body}");
    assert!(learner["journalEntries"]["nodes"][0]["content"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    let responses = &learner["profilingSessions"][0]["responses"];
    assert!(responses[0]["questionId"].is_string() && responses[0]["answeredAt"].is_string(), "{body}");
}
