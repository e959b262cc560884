//! Every error a client can cause carries a stable code and a message about the request; INTERNAL
//! is for server faults only. One request per row of the classification in src/graphql/errors.rs.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, first_code};

crate::on_each_backend!(request_errors_carry_their_own_codes, limit_errors_carry_their_codes);

async fn send(app: &TestApp, body: Value) -> (u16, Value) {
    app.post(None, body).await
}

async fn request_errors_carry_their_own_codes(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("dt").await;
    let cases = [
        (
            "unknown operation name",
            json!({ "query": "query A { __typename }", "operationName": "C" }),
            "OPERATION_NOT_FOUND",
            "Unknown operation named \"C\"",
        ),
        (
            "no operation name in a document of two",
            json!({ "query": "query A { __typename } query B { __typename }" }),
            "OPERATION_NAME_REQUIRED",
            "Operation name required",
        ),
        (
            "a required variable that costs the query, not provided",
            json!({ "query": "query($n: Int!) { learners(first: $n) { edges { cursor } } }" }),
            "BAD_USER_INPUT",
            "`$n` is required by the operation but was not provided",
        ),
        (
            "a required variable not provided",
            json!({ "query": "query($e: String!) { learner(externalId: $e) { id } }" }),
            "BAD_USER_INPUT",
            "`$e`",
        ),
        (
            "null for a non-null variable",
            json!({ "query": "query($e: String!) { learner(externalId: $e) { id } }", "variables": { "e": null } }),
            "BAD_USER_INPUT",
            "",
        ),
        (
            "a variable of the wrong type",
            json!({ "query": "query($n: Int!) { learners(first: $n) { edges { cursor } } }", "variables": { "n": "ten" } }),
            "BAD_USER_INPUT",
            "",
        ),
        (
            "a malformed DateTime",
            json!({ "query": "query($s: DateTime) { learner(externalId: \"dt\") { attempts(since: $s) { edges { cursor } } } }", "variables": { "s": "yesterday" } }),
            "BAD_USER_INPUT",
            "",
        ),
        (
            "a syntax error (one line; the position is in `locations`)",
            json!({ "query": "{ learner(id: \"x\") { id " }),
            "GRAPHQL_PARSE_FAILED",
            "syntax error at line 1, column 25: expected selection_set, selection, directive, or arguments",
        ),
        ("an unknown field", json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED", ""),
    ];
    for (what, body, code, message) in cases {
        let (status, response) = send(&app, body).await;
        assert_eq!(status, 200, "{what}");
        assert_eq!(first_code(&response), code, "{what}: {response:#}");
        let text = response["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{what}: {text}");
        assert!(!text.contains('\n'), "{what}: one line: {text}");
        assert!(!text.is_empty());
    }
}

async fn limit_errors_carry_their_codes(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| {
        c.max_depth = 4;
        c.max_complexity = 500;
    })
    .await;
    let (_, deep) = send(
        &app,
        json!({ "query": "{ viewer { goal(externalId: \"g\") { learner { goal(externalId: \"g\") { id } } } } }" }),
    )
    .await;
    assert_eq!(first_code(&deep), "QUERY_TOO_DEEP", "{deep}");
    assert_eq!(deep["errors"][0]["message"], "Query is nested too deep.");
    let (_, wide) = send(
        &app,
        json!({ "query": "{ learners(first: 100) { edges { node { attempts(first: 10) { edges { cursor } } } } } }" }),
    )
    .await;
    assert_eq!(first_code(&wide), "QUERY_TOO_COMPLEX", "{wide}");
    assert_eq!(wide["errors"][0]["message"], "Query is too complex.");
}
