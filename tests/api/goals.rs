use futures_util::future::join_all;
use serde_json::json;

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    profile_updates_keep_every_version_and_stale_writers_conflict,
    duplicate_goal_external_id_is_a_conflict,
    oversized_profile_is_bad_input_and_changes_nothing,
    update_goal_changes_title_and_status_and_goals_filter_by_status,
    concurrent_profile_updates_all_land_as_distinct_versions,
);

const CREATE: &str = "mutation($l: ID!, $e: String, $t: String!) {
  createGoal(input: { learnerId: $l, externalId: $e, title: $t }) { goal { id externalId title status profileVersion } }
}";
const UPDATE_PROFILE: &str = "mutation($g: ID!, $p: JSON!, $v: Int) {
  updateGoalProfile(input: { goalId: $g, profile: $p, expectedVersion: $v }) { goal { profile profileVersion profileUpdatedAt } }
}";

async fn goal(app: &TestApp, learner: &str, ext: &str) -> String {
    let data = app.ok(CREATE, json!({ "l": learner, "e": ext, "t": "Algebra" })).await;
    data["createGoal"]["goal"]["id"].as_str().expect("id").to_owned()
}

async fn profile_updates_keep_every_version_and_stale_writers_conflict(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("user_7").await;
    let g = goal(&app, &l, "algebra").await;
    let v1 = app.ok(UPDATE_PROFILE, json!({ "g": g, "p": { "level": "beginner" }, "v": 0 })).await;
    assert_eq!(v1["updateGoalProfile"]["goal"]["profileVersion"], 1);
    let v2 = app.ok(UPDATE_PROFILE, json!({ "g": g, "p": { "level": "intermediate" }, "v": 1 })).await;
    assert_eq!(v2["updateGoalProfile"]["goal"]["profileVersion"], 2);
    assert_eq!(v2["updateGoalProfile"]["goal"]["profile"], json!({ "level": "intermediate" }));

    let stale = app
        .exec_as(learngraph::auth::Viewer::Open, UPDATE_PROFILE, json!({ "g": g, "p": { "level": "x" }, "v": 1 }))
        .await;
    assert_eq!(crate::common::first_code(&stale), "CONFLICT");

    let read = app
        .ok(
            "query($e: String!) { learner(externalId: $e) { goal(externalId: \"algebra\") {
               profile profileVersion profileHistory(first: 5) { version profile } } } }",
            json!({ "e": "user_7" }),
        )
        .await;
    let goal = &read["learner"]["goal"];
    assert_eq!(goal["profileVersion"], 2, "the stale write changed nothing");
    assert_eq!(goal["profile"], json!({ "level": "intermediate" }));
    assert_eq!(
        goal["profileHistory"],
        json!([{ "version": 2, "profile": { "level": "intermediate" } }, { "version": 1, "profile": { "level": "beginner" } }])
    );
}

async fn duplicate_goal_external_id_is_a_conflict(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("dup").await;
    goal(&app, &l, "same").await;
    assert_eq!(app.error_code(CREATE, json!({ "l": l, "e": "same", "t": "Again" })).await, "CONFLICT");
    // Another learner may use the same key.
    let other = app.learner("other").await;
    goal(&app, &other, "same").await;
    assert_eq!(app.count_rows("goals", None).await, 2);
}

async fn oversized_profile_is_bad_input_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.max_json_bytes = 1024).await;
    let l = app.learner("big").await;
    let g = goal(&app, &l, "g").await;
    let big = json!({ "notes": "x".repeat(2000) });
    assert_eq!(app.error_code(UPDATE_PROFILE, json!({ "g": g, "p": big })).await, "BAD_USER_INPUT");
    assert_eq!(app.count_rows("goal_profile_versions", None).await, 0);
    let read = app
        .ok("query($id: ID!) { node(id: $id) { ... on Goal { profileVersion profile } } }", json!({ "id": g }))
        .await;
    assert_eq!(read["node"], json!({ "profileVersion": 0, "profile": {} }));
}

async fn update_goal_changes_title_and_status_and_goals_filter_by_status(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("goals").await;
    let g1 = goal(&app, &l, "one").await;
    goal(&app, &l, "two").await;
    let updated = app
        .ok(
            "mutation($g: ID!) { updateGoal(input: { id: $g, title: \"Geometry\", status: COMPLETED }) { goal { title status } } }",
            json!({ "g": g1 }),
        )
        .await;
    assert_eq!(updated["updateGoal"]["goal"], json!({ "title": "Geometry", "status": "COMPLETED" }));
    let read = app
        .ok(
            "query($l: ID!) { learner(id: $l) { all: goals { externalId } done: goals(status: COMPLETED) { externalId } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(read["learner"]["all"], json!([{ "externalId": "one" }, { "externalId": "two" }]));
    assert_eq!(read["learner"]["done"], json!([{ "externalId": "one" }]));
    let code = app
        .error_code(
            "mutation($g: ID!) { updateGoal(input: { id: $g, title: \"  \" }) { goal { id } } }",
            json!({ "g": g1 }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn concurrent_profile_updates_all_land_as_distinct_versions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("writer").await;
    let g = goal(&app, &l, "hot").await;
    let writes = (0..16).map(|i| app.ok(UPDATE_PROFILE, json!({ "g": g, "p": { "i": i } })));
    join_all(writes).await;
    let read = app
        .ok("query($id: ID!) { node(id: $id) { ... on Goal { profileVersion profileHistory(first: 100) { version } } } }", json!({ "id": g }))
        .await;
    assert_eq!(read["node"]["profileVersion"], 16);
    let versions: Vec<i64> = read["node"]["profileHistory"]
        .as_array()
        .expect("history")
        .iter()
        .map(|v| v["version"].as_i64().expect("v"))
        .collect();
    assert_eq!(versions, (1..=16).rev().collect::<Vec<_>>());
}
