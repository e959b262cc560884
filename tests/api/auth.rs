use jsonwebtoken::{Algorithm, EncodingKey, Header};
use learngraph::config::Role;
use serde_json::json;

use crate::common::{Backend, SECRET, TestApp, first_code};

crate::on_each_backend!(
    a_learner_token_reaches_only_its_own_learner,
    another_learner_is_forbidden_whether_it_exists_or_not,
    bad_tokens_are_unauthenticated,
    requests_without_a_token_are_unauthenticated,
    learners_list_is_for_staff_only,
    service_tokens_reach_every_learner,
    suggestions_are_off_when_auth_is_on,
    expiry_allows_30_seconds_of_clock_skew_and_no_more,
);

async fn secured(b: Backend) -> TestApp {
    TestApp::spawn_with(b, Default::default(), |c| c.jwt_secret = Some(learngraph::config::Secret::new(SECRET))).await
}

const ENSURE: &str =
    "mutation($e: String!) { ensureLearner(input: { externalId: $e }) { learner { id externalId } created } }";
const READ: &str = "query($e: String!) { learner(externalId: $e) { externalId displayName } }";

async fn a_learner_token_reaches_only_its_own_learner(b: Backend) {
    let app = secured(b).await;
    let token = app.token("TestUser", Role::Learner);
    let (status, before) = app.post(Some(&token), json!({ "query": "{ viewer { externalId } }" })).await;
    assert_eq!(status, 200);
    assert_eq!(before, json!({ "data": { "viewer": null } }), "no learner yet: null, not an error");
    let (status, body) = app.post(Some(&token), json!({ "query": ENSURE, "variables": { "e": "TestUser" } })).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["ensureLearner"]["created"], true, "{body}");
    let (_, me) = app.post(Some(&token), json!({ "query": "{ viewer { externalId } }" })).await;
    assert_eq!(me["data"]["viewer"]["externalId"], "TestUser");
    let (_, other) = app.post(Some(&token), json!({ "query": ENSURE, "variables": { "e": "student123" } })).await;
    assert_eq!(first_code(&other), "FORBIDDEN", "a learner may not create other learners");
}

async fn another_learner_is_forbidden_whether_it_exists_or_not(b: Backend) {
    let app = secured(b).await;
    let staff = app.token("ops", Role::Staff);
    let (_, made) = app.post(Some(&staff), json!({ "query": ENSURE, "variables": { "e": "student123" } })).await;
    let existing_id = made["data"]["ensureLearner"]["learner"]["id"].clone();
    let token = app.token("user_7", Role::Learner);
    let (_, exists) = app.post(Some(&token), json!({ "query": READ, "variables": { "e": "student123" } })).await;
    let (_, missing) = app.post(Some(&token), json!({ "query": READ, "variables": { "e": "nobody" } })).await;
    assert_eq!(first_code(&exists), "FORBIDDEN");
    assert_eq!(exists["errors"][0]["message"], missing["errors"][0]["message"]);
    assert_eq!(exists["data"], missing["data"], "same answer whether the learner exists or not");
    // By id too, and for writes.
    let (_, by_id) = app
        .post(
            Some(&token),
            json!({ "query": "query($id: ID!) { learner(id: $id) { id } }", "variables": { "id": existing_id } }),
        )
        .await;
    assert_eq!(first_code(&by_id), "FORBIDDEN");
    let (_, write) = app
        .post(
            Some(&token),
            json!({ "query": "mutation($id: ID!) { logEvent(input: { learnerId: $id, kind: \"x\" }) { event { id } } }", "variables": { "id": existing_id } }),
        )
        .await;
    assert_eq!(first_code(&write), "FORBIDDEN");
    assert_eq!(app.count_rows("events", None).await, 0);
    // Through node() too: another learner's goal and a goal that does not exist look alike.
    let (_, goal) = app
        .post(
            Some(&staff),
            json!({ "query": "mutation($l: ID!) { createGoal(input: { learnerId: $l, title: \"T\" }) { goal { id } } }", "variables": { "l": existing_id } }),
        )
        .await;
    let goal_id = goal["data"]["createGoal"]["goal"]["id"].clone();
    let missing_goal = "R29hbDowMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA"; // "Goal:" and a nil UUID
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let (_, theirs) = app.post(Some(&token), json!({ "query": node, "variables": { "id": goal_id } })).await;
    let (_, nobody) = app.post(Some(&token), json!({ "query": node, "variables": { "id": missing_goal } })).await;
    assert_eq!(first_code(&theirs), "FORBIDDEN");
    assert_eq!(theirs["errors"][0]["message"], nobody["errors"][0]["message"]);
    assert_eq!(theirs["data"], nobody["data"]);
}

fn token_with(secret: &str, exp_offset: i64, alg: Algorithm) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "sub": "user_7", "role": "learner", "iat": now, "exp": now + exp_offset });
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).expect("encode")
}

async fn bad_tokens_are_unauthenticated(b: Backend) {
    use base64::Engine;
    let app = secured(b).await;
    let expired = token_with(SECRET, -3600, Algorithm::HS256);
    let other_key = token_with("another-secret", 3600, Algorithm::HS256);
    let wrong_alg = token_with(SECRET, 3600, Algorithm::HS384);
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = chrono::Utc::now().timestamp() + 3600;
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT" })),
        b64(json!({ "sub": "user_7", "role": "staff", "exp": exp }))
    );
    for (what, token) in [
        ("expired", expired),
        ("other key", other_key),
        ("HS384", wrong_alg),
        ("alg none", alg_none),
        ("junk", "abc".into()),
    ] {
        let (status, body) = app.post(Some(&token), json!({ "query": "{ viewer { id } }" })).await;
        assert_eq!(status, 401, "{what}");
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{what}");
    }
}

async fn requests_without_a_token_are_unauthenticated(b: Backend) {
    let app = secured(b).await;
    let (status, body) = app.post(None, json!({ "query": READ, "variables": { "e": "user_7" } })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "UNAUTHENTICATED");
    let (_, body) = app.post(None, json!({ "query": ENSURE, "variables": { "e": "user_7" } })).await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED");
    assert_eq!(app.count_rows("learners", None).await, 0);
}

async fn learners_list_is_for_staff_only(b: Backend) {
    let app = secured(b).await;
    let q = json!({ "query": "{ learners(first: 10) { edges { node { externalId } } } }" });
    let (_, as_learner) = app.post(Some(&app.token("user_7", Role::Learner)), q.clone()).await;
    assert_eq!(first_code(&as_learner), "FORBIDDEN");
    let (_, as_service) = app.post(Some(&app.token("tutor", Role::Service)), q.clone()).await;
    assert_eq!(first_code(&as_service), "FORBIDDEN");
    let (_, as_staff) = app.post(Some(&app.token("ops", Role::Staff)), q).await;
    assert!(as_staff.get("errors").is_none(), "{as_staff}");
}

async fn service_tokens_reach_every_learner(b: Backend) {
    let app = secured(b).await;
    let service = app.token("tutor", Role::Service);
    let (_, made) = app.post(Some(&service), json!({ "query": ENSURE, "variables": { "e": "student123" } })).await;
    assert_eq!(made["data"]["ensureLearner"]["created"], true);
    let (_, read) = app.post(Some(&service), json!({ "query": READ, "variables": { "e": "student123" } })).await;
    assert_eq!(read["data"]["learner"]["externalId"], "student123");
    let (_, missing) = app.post(Some(&service), json!({ "query": READ, "variables": { "e": "nobody" } })).await;
    assert_eq!(missing["data"]["learner"], serde_json::Value::Null);
    assert!(missing.get("errors").is_none());
}

async fn suggestions_are_off_when_auth_is_on(b: Backend) {
    let app = secured(b).await;
    let (_, body) =
        app.post(Some(&app.token("ops", Role::Staff)), json!({ "query": "{ nod(id: \"x\") { id } }" })).await;
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(!message.contains("Did you mean"), "{message}");
    assert_eq!(first_code(&body), "GRAPHQL_VALIDATION_FAILED");
}

/// Clocks of token issuers and servers drift: a token is accepted up to 30 s after `exp`, and
/// refused after that.
async fn expiry_allows_30_seconds_of_clock_skew_and_no_more(b: Backend) {
    let app = secured(b).await;
    let just_expired = token_with(SECRET, -10, Algorithm::HS256);
    let (status, body) = app.post(Some(&just_expired), json!({ "query": "{ viewer { id } }" })).await;
    assert_eq!(status, 200, "{body}");
    let long_expired = token_with(SECRET, -120, Algorithm::HS256);
    let (status, body) = app.post(Some(&long_expired), json!({ "query": "{ viewer { id } }" })).await;
    assert_eq!(status, 401);
    assert_eq!(first_code(&body), "UNAUTHENTICATED");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("expired")), "{body}");
}
