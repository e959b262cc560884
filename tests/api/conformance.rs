//! The GraphQL spec as clients rely on it: response maps in the query's order, and a document of
//! several operations validated and limited for the selected one only, the schema describing itself.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, http_client};

crate::on_each_backend!(
    response_maps_keep_the_query_order,
    only_the_selected_operation_is_validated_and_limited,
    the_schema_describes_itself_and_downloads_as_sdl,
    list_objects_answer_their_scalars_as_the_executor_does,
    written_objects_give_the_body_the_value_tree_gives,
    rows_read_by_position_are_the_rows_sea_orm_reads_by_name,
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

/// The learner and every object of its view (attempts, sessions, journal entries, profiling
/// answers, goals, edges, page info, settings, streak, progress, details, profiling outcome,
/// portfolio, recommendations, activity) answer their scalar fields without the executor
/// (`graphql::fast`); a directive sends an object through the executor whole. Both must give the
/// same response, field for field, in the same order.
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
    // A recipe for the defender track's gap skill, so there is a recommendation.
    app.ok(
        "mutation { upsertRecipe(input: { slug: \"net\", title: \"Networks\", skillCodes: [\"NET-101\"] }) { created } }",
        json!({}),
    )
    .await;
    let query = |extra: &str| {
        format!(
            "query($l: ID!) {{ learner(id: $l) {{ \
             attempts(first: 5) {{ edges {{ __typename cursor node {{ __typename id exerciseId activityType objectiveId isCorrect completed \
               score userAnswer responseTimeMs details occurredAt localDate createdAt session {{ id kind }} goal {{ id }} x: id {extra} }} {extra} }} \
               again: edges {{ node {{ id exerciseId isCorrect exerciseId }} }} \
               written: edges {{ cursor node {{ __typename id exerciseId score occurredAt {extra} }} }} \
               nodes {{ __typename id isCorrect {extra} }} \
               pageInfo {{ __typename hasNextPage hasPreviousPage startCursor endCursor {extra} }} __typename {extra} }} \
             p: attempts(first: 1) {{ pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor __typename {extra} }} __typename {extra} }} \
             goals {{ __typename id externalId title status profile profileVersion profileUpdatedAt createdAt updatedAt {extra} }} \
             sessions(first: 5) {{ nodes {{ __typename id kind startedAt endedAt totalExercises correctAnswers accuracy \
               attempts(first: 2) {{ nodes {{ id }} }} {extra} }} }} \
             journalEntries(first: 5) {{ nodes {{ __typename id content moodTags source embeddingDimension createdAt updatedAt \
               followUps {{ __typename id question answer createdAt {extra} }} {extra} }} }} \
             profilingSessions {{ __typename id status bankVersion startedAt completedAt \
               responses {{ __typename questionId selectedOption responseTimeMs answeredAt {extra} }} {extra} }} \
             progress {{ __typename totalAttempts correctAttempts accuracy byDay(last: 3) {{ __typename date attempts correct {extra} }} {extra} }} \
             __typename id externalId displayName bio timeZone createdAt updatedAt \
             settings {{ __typename theme preferredMeditationMinutes preferredMentorCategory {extra} }} \
             streak {{ __typename current longest lastPracticeDate {extra} }} \
             preferences {{ __typename category value createdAt updatedAt {extra} }} interests struggles \
             cognitiveMetrics {{ __typename taskName metrics recordedAt {extra} }} \
             objectives {{ __typename objectiveId status score details startedAt completedAt updatedAt {extra} }} \
             badges {{ __typename badgeId name details earnedAt {extra} }} \
             profiling {{ __typename complete completedAt sessionId trackKey alignment {{ __typename track percentage {extra} }} {extra} }} \
             portfolio {{ __typename id kind title content url profilingSessionId createdAt updatedAt {extra} }} \
             recipeRecommendations {{ __typename id slug title skillCodes usageCount avgRating reasons recipe {{ slug }} {extra} }} \
             activitySummary {{ __typename chatSessions chatMessages journalEntries meditationSessions meditationMinutes \
               lastActiveAt {extra} }} {extra} }} }}"
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
    let goal = &learner["goals"][0];
    assert!(goal["title"].is_string() && goal["profileVersion"].is_number(), "{body}");
    assert!(learner["attempts"]["pageInfo"]["endCursor"].is_string(), "{body}");
    assert_eq!(learner["p"]["pageInfo"]["hasNextPage"], true, "{body}");
    let ended = &learner["sessions"]["nodes"][0];
    assert_eq!((ended["totalExercises"].clone(), ended["accuracy"].clone()), (json!(1), json!(0.0)), "{body}");
    assert!(ended["endedAt"].is_string(), "{body}");
    assert!(learner["journalEntries"]["nodes"][0]["content"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    let entries = learner["journalEntries"]["nodes"].as_array().expect("entries");
    assert!(entries.iter().any(|e| e["followUps"][0]["question"].is_string()), "a follow-up: {body}");
    let today = &learner["progress"]["byDay"][2];
    assert!(today["date"].is_string() && today["attempts"].as_i64().is_some_and(|n| n > 0), "{body}");
    let responses = &learner["profilingSessions"][0]["responses"];
    assert!(responses[0]["questionId"].is_string() && responses[0]["answeredAt"].is_string(), "{body}");
    assert_eq!(learner["externalId"], "leaves", "{body}");
    assert_eq!(learner["timeZone"], "UTC", "{body}");
    assert_eq!(learner["streak"]["current"], 1, "{body}");
    assert_eq!(learner["progress"]["totalAttempts"], 2, "{body}");
    assert_eq!(learner["preferences"][0]["value"], "visual", "{body}");
    assert_eq!(learner["cognitiveMetrics"][0]["metrics"], json!({ "a": 1 }), "{body}");
    assert_eq!(learner["objectives"][0]["status"], "COMPLETED", "{body}");
    assert_eq!(learner["badges"][0]["name"], "First", "{body}");
    assert_eq!(learner["profiling"]["trackKey"], "defender", "{body}");
    assert!(learner["profiling"]["alignment"][0]["percentage"].is_number(), "{body}");
    let kinds: Vec<&Value> = learner["portfolio"].as_array().expect("portfolio").iter().map(|i| &i["kind"]).collect();
    assert_eq!(kinds, [&json!("VALUE_STATEMENT"), &json!("PROJECT")], "{body}");
    assert_eq!(learner["recipeRecommendations"][0]["skillCodes"], json!(["NET-101"]), "{body}");
    assert!(learner["activitySummary"]["journalEntries"].as_i64().is_some_and(|n| n > 0), "{body}");
}

/// Over HTTP, objects on the fast path are written as JSON text while they resolve
/// (`fast::Render`); without it (as `graphql::execute` runs for the WebSocket and the tests) they
/// are maps, written afterwards. The dashboard's view, with cursors and page info added, must be
/// the same text both ways, byte for byte.
async fn written_objects_give_the_body_the_value_tree_gives(b: Backend) {
    use async_graphql::{Request, Variables};
    let app = TestApp::spawn(b).await;
    let l = app.learner("written").await;
    crate::fixtures::seed_every_table(&app, &l).await;
    let view = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contract/learner-view.graphql"))
        .expect("contract");
    let view = view.replace("edges { node {", "edges { cursor node {").replace(
        "pageInfo { hasNextPage endCursor }",
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }",
    );
    let variables = json!({ "externalId": "written" });
    let body = json!({ "query": view, "operationName": "FullLearnerView", "variables": variables });
    let http = raw(&app, body).await;
    let request = Request::new(view.as_str())
        .operation_name("FullLearnerView")
        .variables(Variables::from_json(variables))
        .data(learngraph::auth::Viewer::Open);
    let schema = app.schema.clone();
    let response =
        tokio::spawn(async move { learngraph::graphql::execute(&schema, request).await }).await.expect("task");
    let tree = String::from_utf8(serde_json::to_vec(&response).expect("json")).expect("utf-8");
    assert_eq!(http, tree);
    let parsed: Value = serde_json::from_str(&http).expect("json");
    let learner = &parsed["data"]["learner"];
    assert_eq!(learner["externalId"], "written", "{parsed}");
    assert!(learner["attempts"]["edges"][0]["cursor"].is_string(), "{parsed}");
    assert!(learner["attempts"]["edges"][0]["node"]["exerciseId"].is_string(), "{parsed}");
    assert!(learner["journalEntries"]["edges"][0]["node"]["content"].is_string(), "{parsed}");
}

/// The page loaders read attempts, sessions and journal entries by column position
/// (`graphql::rows`); sea-orm's derived reading, by name, must agree on every stored row, with
/// each nullable column both set and `NULL`.
async fn rows_read_by_position_are_the_rows_sea_orm_reads_by_name(b: Backend) {
    use entity::{attempt, journal_entry, session};
    use learngraph::graphql::rows::Decode;
    use sea_orm::sea_query::Query;
    use sea_orm::{ConnectionTrait, FromQueryResult, Iterable};

    async fn compare<E: Decode>(app: &TestApp) -> Vec<E::Model>
    where
        E::Model: FromQueryResult + PartialEq + std::fmt::Debug,
    {
        let stmt = Query::select().columns(E::Column::iter()).from(E::default()).to_owned();
        let rows = app.state.db.query_all(&stmt).await.expect("rows");
        assert!(rows.len() >= 2, "{} rows", rows.len());
        rows.iter()
            .map(|row| {
                let by_position = E::decode(row).expect("by position");
                assert_eq!(by_position, E::Model::from_query_result(row, "").expect("by name"));
                by_position
            })
            .collect()
    }

    let app = TestApp::spawn(b).await;
    let l = app.learner("rows").await;
    crate::fixtures::seed_every_table(&app, &l).await;
    crate::fixtures::attempt(&app, &l, "bare", None, None).await;
    let goal = app.goal(&l).await;
    let session = crate::fixtures::start_session(&app, &l, "PRACTICE").await;
    app.ok(
        "mutation($l: ID!, $g: ID!, $s: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"full\", isCorrect: false, \
         completed: true, activityType: \"quiz\", objectiveId: \"lo-9\", goalId: $g, sessionId: $s, score: 0.25, \
         userAnswer: \"42\", responseTimeMs: 1500, details: { hint: 2 }, occurredAt: \"2026-03-04T05:06:07Z\", \
         idempotencyKey: \"k-full\" }) { attempt { id } } }",
        json!({ "l": l, "g": goal, "s": session }),
    )
    .await;
    app.ok("mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { id } } }", json!({ "s": session }))
        .await;
    app.ok(
        "mutation($l: ID!) { createJournalEntry(input: { learnerId: $l, content: \"both\", moodTags: [\"calm\"], \
         embedding: [0.6, 0.8], idempotencyKey: \"j-full\" }) { entry { id } } }",
        json!({ "l": l }),
    )
    .await;

    let attempts = compare::<attempt::Entity>(&app).await;
    let full = attempts.iter().find(|a| a.exercise_id == "full").expect("the full attempt");
    assert_eq!(
        (full.session_id, full.goal_id),
        (Some(crate::common::uuid_of(session.as_str().unwrap_or_default())), Some(crate::common::uuid_of(&goal)))
    );
    assert_eq!((full.activity_type.as_deref(), full.objective_id.as_deref()), (Some("quiz"), Some("lo-9")));
    assert_eq!((full.score, full.user_answer.as_deref(), full.response_time_ms), (Some(0.25), Some("42"), Some(1500)));
    assert_eq!(
        (full.details.clone(), full.completed, full.is_correct),
        (Some(json!({ "hint": 2 })), Some(true), false)
    );
    assert_eq!(full.idempotency_key.as_deref(), Some("k-full"));
    assert_eq!(full.occurred_at.to_rfc3339(), "2026-03-04T05:06:07+00:00");
    let bare = attempts.iter().find(|a| a.exercise_id == "bare").expect("the bare attempt");
    assert_eq!((bare.session_id, bare.goal_id, bare.score, bare.completed), (None, None, None, None));

    let sessions = compare::<session::Entity>(&app).await;
    assert!(sessions.iter().any(|s| s.ended_at.is_some()) && sessions.iter().any(|s| s.ended_at.is_none()));
    let practice = crate::common::uuid_of(session.as_str().unwrap_or_default());
    let ended = sessions.iter().find(|s| s.id == practice).expect("the practice session");
    assert!(ended.ended_at.is_some());
    assert_eq!((ended.total_exercises, ended.correct_answers), (1, 0));

    let entries = compare::<journal_entry::Entity>(&app).await;
    let both = entries.iter().find(|e| e.content == "both").expect("the entry with everything");
    assert_eq!((both.mood_tags.clone(), both.idempotency_key.as_deref()), (json!(["calm"]), Some("j-full")));
    assert_eq!(both.embedding.as_ref().map(Vec::len), Some(8), "two f32s");
    assert!(entries.iter().any(|e| e.embedding.is_none() && e.idempotency_key.is_none()));
}
