//! Runs the client operations of ../shared/contract/ with real variables and checks the values.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    profile_operations_run_as_clients_send_them,
    progress_operations_run_as_clients_send_them,
    learner_page_and_node_operations_run
);

fn contract(file: &str) -> String {
    let path = format!("{}/../shared/contract/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The text of one top-level definition of a document: a whole document is validated as one,
/// and other operations in the same file may use fields that later work adds.
fn extract(doc: &str, name: &str) -> String {
    let text: String = doc.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut depth = 0;
    let mut start = None;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0
                    && let Some(s) = start.take()
                {
                    let def = &text[s..=i];
                    let header = def.split(['(', '{']).next().unwrap_or("");
                    if header.split_whitespace().nth(1) == Some(name) {
                        return def.to_owned();
                    }
                }
            }
            c if depth == 0 && start.is_none() && !c.is_whitespace() => start = Some(i),
            _ => {}
        }
    }
    panic!("no operation {name} in the contract document")
}

/// Runs one named operation of a contract document and returns its data.
async fn op(app: &TestApp, doc: &str, name: &str, variables: Value) -> Value {
    let request = async_graphql::Request::new(extract(doc, name))
        .operation_name(name)
        .variables(async_graphql::Variables::from_json(variables))
        .data(learngraph::auth::Viewer::Open);
    let response = serde_json::to_value(app.schema.execute(request).await).expect("json");
    assert!(response.get("errors").is_none(), "{name}: {response:#}");
    response["data"].clone()
}

async fn profile_operations_run_as_clients_send_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = contract("profile.graphql");
    let ensured = op(&app, &doc, "EnsureLearner", json!({ "externalId": "user_7", "displayName": "Ann" })).await;
    assert_eq!(ensured["ensureLearner"]["created"], true);
    assert_eq!(ensured["ensureLearner"]["learner"]["displayName"], "Ann");
    let id = ensured["ensureLearner"]["learner"]["id"].clone();

    let updated = op(
        &app,
        &doc,
        "UpdateLearner",
        json!({ "id": id, "timeZone": "America/Los_Angeles", "bio": "Likes maths", "theme": "dark" }),
    )
    .await;
    assert_eq!(
        updated["updateLearner"]["learner"],
        json!({ "id": id, "timeZone": "America/Los_Angeles", "bio": "Likes maths", "settings": { "theme": "dark" } })
    );

    let goal =
        op(&app, &doc, "CreateGoal", json!({ "learnerId": id, "externalId": "python", "title": "Learn Python" })).await;
    assert_eq!(goal["createGoal"]["goal"]["status"], "ACTIVE");
    assert_eq!(goal["createGoal"]["goal"]["profileVersion"], 0);
    let goal_id = goal["createGoal"]["goal"]["id"].clone();

    let v1 = op(
        &app,
        &doc,
        "UpdateGoalProfile",
        json!({ "goalId": goal_id, "profile": { "skill": "loops" }, "expectedVersion": 0 }),
    )
    .await;
    assert_eq!(v1["updateGoalProfile"]["goal"]["profileVersion"], 1);
    let v2 =
        op(&app, &doc, "UpdateGoalProfile", json!({ "goalId": goal_id, "profile": { "skill": "functions" } })).await;
    assert_eq!(v2["updateGoalProfile"]["goal"]["profileVersion"], 2);
    assert!(v2["updateGoalProfile"]["goal"]["profileUpdatedAt"].is_string());

    let profiles = op(&app, &doc, "GoalProfiles", json!({ "externalId": "user_7", "goalExternalId": "python" })).await;
    assert_eq!(
        profiles["learner"]["goals"],
        json!([{ "externalId": "python", "profile": { "skill": "functions" }, "profileVersion": 2 }])
    );
    let history: Vec<i64> = profiles["learner"]["goal"]["profileHistory"]
        .as_array()
        .expect("history")
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(history, [2, 1]);

    let logged = op(&app, &doc, "LogEvent", json!({ "learnerId": id, "goalId": goal_id, "kind": "lesson_viewed", "payload": { "lesson": 3 }, "idempotencyKey": "k1" })).await;
    let retried = op(&app, &doc, "LogEvent", json!({ "learnerId": id, "goalId": goal_id, "kind": "lesson_viewed", "payload": { "lesson": 3 }, "idempotencyKey": "k1" })).await;
    assert_eq!(logged, retried);
    op(&app, &doc, "LogEvent", json!({ "learnerId": id, "kind": "quiz_started" })).await;

    let recent = op(&app, &doc, "RecentEvents", json!({ "externalId": "user_7", "first": 10 })).await;
    let edges = recent["learner"]["events"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["node"]["kind"], "quiz_started");
    assert_eq!(edges[1]["node"]["goal"]["id"], goal_id);
    let filtered =
        op(&app, &doc, "RecentEvents", json!({ "externalId": "user_7", "first": 10, "kind": "lesson_viewed" })).await;
    assert_eq!(filtered["learner"]["events"]["edges"][0]["node"]["payload"], json!({ "lesson": 3 }));

    let deleted = op(&app, &doc, "DeleteLearner", json!({ "id": id })).await;
    assert_eq!(deleted["deleteLearner"]["deletedLearnerId"], id);
    let gone = op(&app, &doc, "RecentEvents", json!({ "externalId": "user_7", "first": 10 })).await;
    assert_eq!(gone["learner"], Value::Null);
}

async fn progress_operations_run_as_clients_send_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = contract("progress.graphql");
    let id = app.learner("student123").await;
    let session = op(&app, &doc, "StartSession", json!({ "learnerId": id, "kind": "PRACTICE" })).await;
    assert_eq!(session["startSession"]["session"]["kind"], "PRACTICE");
    let session_id = session["startSession"]["session"]["id"].clone();
    for (exercise, correct) in [("add-1", true), ("add-2", false), ("add-1", true)] {
        let r = op(&app, &doc, "RecordAttempt", json!({ "learnerId": id, "exerciseId": exercise, "isCorrect": correct, "userAnswer": "4", "sessionId": session_id })).await;
        assert_eq!(r["recordAttempt"]["streak"]["current"], 1);
        assert_eq!(r["recordAttempt"]["attempt"]["exerciseId"], exercise);
    }
    let retried = op(
        &app,
        &doc,
        "RecordAttempt",
        json!({ "learnerId": id, "exerciseId": "add-3", "isCorrect": true, "idempotencyKey": "r1" }),
    )
    .await;
    let again = op(
        &app,
        &doc,
        "RecordAttempt",
        json!({ "learnerId": id, "exerciseId": "add-3", "isCorrect": true, "idempotencyKey": "r1" }),
    )
    .await;
    assert_eq!(retried["recordAttempt"]["attempt"]["id"], again["recordAttempt"]["attempt"]["id"]);

    let ended = op(&app, &doc, "EndSession", json!({ "sessionId": session_id })).await;
    assert_eq!(ended["endSession"]["session"]["totalExercises"], 3);
    assert_eq!(ended["endSession"]["session"]["correctAnswers"], 2);
    assert!(ended["endSession"]["session"]["endedAt"].is_string());

    let progress = op(&app, &doc, "Progress", json!({ "externalId": "student123" })).await;
    let p = &progress["learner"]["progress"];
    assert_eq!(p["totalAttempts"], 4);
    assert_eq!(p["correctAttempts"], 3);
    assert_eq!(p["accuracy"], 0.75);
    assert_eq!(p["exercisesAttempted"], 3);
    let days = p["byDay"].as_array().expect("byDay");
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["attempts"], 4, "today is the last day of the window");
    assert_eq!(days[0]["attempts"], 0);
    let add1 =
        p["byExercise"].as_array().expect("byExercise").iter().find(|e| e["exerciseId"] == "add-1").expect("add-1");
    assert_eq!((add1["attempts"].as_i64(), add1["correct"].as_i64()), (Some(2), Some(2)));
    assert_eq!(progress["learner"]["streak"]["current"], 1);

    let reset = op(&app, &doc, "ResetProgress", json!({ "learnerId": id })).await;
    assert_eq!(reset["resetProgress"]["deletedAttempts"], 4);
    assert_eq!(reset["resetProgress"]["deletedSessions"], 1);
    assert_eq!(
        reset["resetProgress"]["learner"]["streak"],
        json!({ "current": 0, "longest": 0, "lastPracticeDate": null })
    );
}

async fn learner_page_and_node_operations_run(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = contract("learner-view.graphql");
    let id = app.learner("TestUser").await;
    app.learner("user_7").await;
    let page = op(&app, &doc, "LearnerPage", json!({ "first": 1 })).await;
    assert_eq!(page["learners"]["edges"][0]["node"]["externalId"], "user_7");
    assert_eq!(page["learners"]["pageInfo"]["hasNextPage"], true);
    let next =
        op(&app, &doc, "LearnerPage", json!({ "first": 1, "after": page["learners"]["pageInfo"]["endCursor"] })).await;
    assert_eq!(next["learners"]["edges"][0]["node"]["externalId"], "TestUser");
    let node = op(&app, &doc, "NodeById", json!({ "id": id })).await;
    assert_eq!(node["node"], json!({ "id": id, "__typename": "Learner" }));
}
