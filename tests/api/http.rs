use serde_json::json;

use crate::common::{Backend, TestApp, first_code, http_client};

crate::on_each_backend!(
    graphiql_is_served_with_its_assets_from_the_binary,
    a_mutation_sent_by_get_is_405,
    a_query_may_be_sent_by_get,
    only_json_posts_are_accepted,
    an_oversized_body_is_413,
    batches_are_limited,
    depth_and_complexity_limits_carry_codes,
    a_validated_document_answers_bad_variables_as_a_new_one_does,
    a_reused_validation_still_limits_each_page_size,
    health_and_readiness_answer,
    graphiql_introspection_fits_the_default_limits,
    cross_origin_requests_follow_the_configured_origins,
    graphql_response_json_answers_request_errors_with_400,
    malformed_request_parameters_are_400,
    aliases_are_limited_through_fragments_and_before_the_database,
    directives_per_field_and_tokens_per_document_are_limited,
);

async fn graphiql_is_served_with_its_assets_from_the_binary(b: Backend) {
    let app = TestApp::spawn(b).await;
    let client = http_client();
    let page = client.get(app.url("/graphql")).send().await.expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("GraphiQL"));
    assert!(!html.contains("https://") && !html.contains("http://"), "nothing is loaded from another host");
    for (asset, content_type) in [
        ("graphiql.min.js", "text/javascript"),
        ("graphiql.min.css", "text/css"),
        ("react.production.min.js", "text/javascript"),
        ("react-dom.production.min.js", "text/javascript"),
    ] {
        assert!(html.contains(&format!("/graphql/assets/{asset}")), "{asset} referenced");
        let res = client.get(app.url(&format!("/graphql/assets/{asset}"))).send().await.expect("asset");
        assert_eq!(res.status(), 200, "{asset}");
        assert_eq!(res.headers()["content-type"], content_type);
        assert!(res.bytes().await.expect("bytes").len() > 5_000, "{asset} is the real bundle");
    }
    let missing = client.get(app.url("/graphql/assets/nope.js")).send().await.expect("get");
    assert_eq!(missing.status(), 404);
}

async fn a_mutation_sent_by_get_is_405(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = http_client()
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { ensureLearner(input: { externalId: \"csrf\" }) { created } }")])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(app.count_rows("learners", None).await, 0);
}

async fn a_query_may_be_sent_by_get(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("getter").await;
    let res = http_client()
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query($e: String!) { learner(externalId: $e) { externalId } }"),
            ("variables", "{\"e\":\"getter\"}"),
        ])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["data"]["learner"]["externalId"], "getter");
}

async fn only_json_posts_are_accepted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let body = r#"{"query":"mutation { ensureLearner(input: { externalId: \"csrf\" }) { created } }"}"#;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"] {
        let res = http_client()
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 415, "{content_type}");
    }
    assert_eq!(app.count_rows("learners", None).await, 0);
    let res = http_client()
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
}

async fn an_oversized_body_is_413(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.max_body_bytes = 4096).await;
    let (status, _) =
        app.post(None, json!({ "query": "{ viewer { id } }", "variables": { "pad": "x".repeat(10_000) } })).await;
    assert_eq!(status, 413);
}

async fn batches_are_limited(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.max_batch = 3).await;
    let one = json!({ "query": "{ learners(first: 1) { edges { cursor } } }" });
    let (status, body) = app.post(None, json!([one, one])).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2), "a batch gets one response per operation");
    let (status, body) = app.post(None, json!([one, one, one, one])).await;
    assert_eq!(status, 400);
    assert_eq!(first_code(&body), "BATCH_TOO_LARGE");
}

async fn depth_and_complexity_limits_carry_codes(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| {
        c.max_depth = 5;
        c.max_complexity = 500;
    })
    .await;
    let deep = "{ learner(externalId: \"x\") { goal(externalId: \"g\") { learner { goal(externalId: \"g\") { learner { goal(externalId: \"g\") { id } } } } } } }";
    let (_, body) = app.post(None, json!({ "query": deep })).await;
    assert_eq!(first_code(&body), "QUERY_TOO_DEEP");
    let wide = "{ learners(first: 100) { edges { node { attempts(first: 100) { edges { cursor } } } } } }";
    let (_, body) = app.post(None, json!({ "query": wide })).await;
    assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX");
    let (_, body) = app.post(None, json!({ "query": "{ learners(first: 5) { edges { cursor } } }" })).await;
    assert!(body.get("errors").is_none(), "a modest query passes: {body}");
}

/// A document that has passed validation reuses the answer for later requests with the same
/// page sizes (`documents::Reuse`), whatever its `String` variables: a page size that makes it too
/// complex is still refused, every time, and the answers follow each request's variables.
async fn a_reused_validation_still_limits_each_page_size(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.max_complexity = 500).await;
    let (ada, bo) = (app.learner("ada").await, app.learner("bo").await);
    let query = "query($n: Int!, $e: String!) { learners(first: $n) { edges { node { attempts(first: $n) { edges { cursor } } } } } \
                 learner(externalId: $e) { id } }";
    let ask = |n: i64, e: &str| app.post(None, json!({ "query": query, "variables": { "n": n, "e": e } }));
    for (n, e, learner) in [(2, "ada", &ada), (2, "bo", &bo), (2, "ada", &ada), (1, "bo", &bo)] {
        let (status, body) = ask(n, e).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["learner"]["id"], json!(learner), "{body}");
        assert_eq!(body["data"]["learners"]["edges"].as_array().map(Vec::len), Some(n as usize), "{body}");
        for _ in 0..2 {
            let (_, body) = ask(100, e).await;
            assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        }
    }
    let (_, body) = ask(2, "nobody").await;
    assert_eq!(body["data"]["learner"], json!(null), "{body}");
}

async fn health_and_readiness_answer(b: Backend) {
    let app = TestApp::spawn(b).await;
    for path in ["/healthz", "/readyz"] {
        let res = http_client().get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
    }
}

/// GraphiQL and client code generators introspect with a deep query; the default limits must
/// admit it, or the IDE shows no schema.
async fn graphiql_introspection_fits_the_default_limits(b: Backend) {
    let app = TestApp::spawn(b).await;
    let query = include_str!("introspection.graphql");
    let (status, body) = app.post(None, json!({ "query": query, "operationName": "IntrospectionQuery" })).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{:#}", body["errors"]);
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "Learner"));
}

async fn cross_origin_requests_follow_the_configured_origins(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| {
        c.cors_origins = vec!["http://localhost:5173".into(), "https://app.example.org/".into()];
    })
    .await;
    let client = http_client();
    let preflight = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,authorization")
            .send()
    };
    let ok = preflight("http://localhost:5173").await.expect("preflight");
    assert_eq!(ok.status(), 200);
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    let allowed = h["access-control-allow-headers"].to_str().expect("headers").to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
    assert!(h["access-control-allow-methods"].to_str().expect("methods").contains("POST"));
    assert!(h.get("access-control-allow-credentials").is_none(), "no cookies: tokens only");
    // A listed origin with a trailing slash in the setting still matches.
    let other = preflight("https://app.example.org").await.expect("preflight");
    assert_eq!(other.headers()["access-control-allow-origin"], "https://app.example.org");
    // An origin not listed gets no CORS headers: the browser refuses it.
    let refused = preflight("https://evil.example").await.expect("preflight");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    // The actual request carries the header too.
    let res = client
        .post(app.url("/graphql"))
        .header("Origin", "http://localhost:5173")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:5173");

    // `*` allows any origin, still without credentials.
    let any = TestApp::spawn_with(b, Default::default(), |c| c.cors_origins = vec!["*".into()]).await;
    let res = client
        .request(reqwest::Method::OPTIONS, any.url("/graphql"))
        .header("Origin", "http://anywhere.test")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res.headers().get("access-control-allow-credentials").is_none());
    // None configured (the default): no origin is allowed.
    let none = TestApp::spawn(b).await;
    let res = client
        .request(reqwest::Method::OPTIONS, none.url("/graphql"))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("preflight");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

/// POSTs `body` accepting `accept`; the status, the content type and the body.
async fn post_accepting(app: &TestApp, accept: &str, body: serde_json::Value) -> (u16, String, serde_json::Value) {
    let res = http_client().post(app.url("/graphql")).header("accept", accept).json(&body).send().await.expect("post");
    let status = res.status().as_u16();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, content_type, res.json().await.expect("json"))
}

async fn graphql_response_json_answers_request_errors_with_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("media").await;
    let gql = "application/graphql-response+json, application/json;q=0.9";
    let ok = json!({ "query": "{ learner(externalId: \"media\") { externalId } }" });
    let (status, content_type, body) = post_accepting(&app, gql, ok.clone()).await;
    assert_eq!((status, content_type.as_str()), (200, "application/graphql-response+json"));
    assert_eq!(body["data"]["learner"]["externalId"], "media");
    // Failures before execution: 400, and no `data` entry at all.
    let failures = [
        (json!({ "query": "{ learner(" }), "GRAPHQL_PARSE_FAILED"),
        (json!({ "query": "{ noSuchField }" }), "GRAPHQL_VALIDATION_FAILED"),
        (
            json!({ "query": "query($n: Int!) { learners(first: $n) { edges { cursor } } }", "variables": { "n": "x" } }),
            "BAD_USER_INPUT",
        ),
    ];
    for (request, code) in &failures {
        let (status, content_type, body) = post_accepting(&app, gql, request.clone()).await;
        assert_eq!((status, content_type.as_str()), (400, "application/graphql-response+json"), "{request}");
        assert!(body.get("data").is_none(), "no data entry: {body}");
        assert_eq!(first_code(&body), *code, "{body}");
    }
    // An error while executing still has `data` (null or partial) and is a 200.
    let missing = json!({ "query": "{ learner(externalId: \"nobody\") { externalId } }" });
    let (status, _, body) = post_accepting(&app, gql, missing).await;
    assert_eq!(status, 200);
    assert!(body.get("data").is_some(), "{body}");
    // Under application/json (and without Accept) every GraphQL response is a 200, as before.
    for accept in ["application/json", "*/*"] {
        let (status, content_type, body) = post_accepting(&app, accept, failures[0].0.clone()).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"), "{accept}");
        assert_eq!(first_code(&body), "GRAPHQL_PARSE_FAILED");
    }
    // GET negotiates the same way.
    let res = http_client()
        .get(app.url("/graphql"))
        .header("accept", gql)
        .query(&[("query", "{ nope }")])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/graphql-response+json");
}

/// A document that has passed validation once skips the rules that read only the document
/// (`AppSchema::run`); variables are checked on every request all the same. Each bad request is
/// sent while its document is new, then after a good request validated the document: status, code
/// and body must not change.
async fn a_validated_document_answers_bad_variables_as_a_new_one_does(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("v").await;
    let gql = "application/graphql-response+json, application/json;q=0.9";
    let first = "query($n: Int!) { learners(first: $n) { edges { cursor } } }";
    let defaulted = "query($n: Int = 3) { learners(first: $n) { edges { cursor } } }";
    let since = "query($s: DateTime) { learner(externalId: \"v\") { attempts(since: $s) { edges { cursor } } } }";
    let status = "query($st: GoalStatus) { learner(externalId: \"v\") { goals(status: $st) { id } } }";
    let ensure = "mutation($in: EnsureLearnerInput!) { ensureLearner(input: $in) { learner { externalId } } }";
    let cases = [
        (first, json!({ "n": 2 }), vec![json!({ "n": "x" }), json!({ "n": null }), json!({}), json!({ "n": 2.5 })]),
        (first, json!({ "n": 2 }), vec![json!({ "n": 99_999_999_999_i64 }), json!({ "n": [2] })]),
        (defaulted, json!({}), vec![json!({ "n": "x" }), json!({ "n": null })]),
        (since, json!({ "s": "2026-01-01T00:00:00Z" }), vec![json!({ "s": "yesterday" }), json!({ "s": 5 })]),
        (status, json!({ "st": "ACTIVE" }), vec![json!({ "st": "NOPE" }), json!({ "st": 1 })]),
        (
            ensure,
            json!({ "in": { "externalId": "v" } }),
            vec![
                json!({ "in": { "externalId": 5 } }),
                json!({ "in": { "displayName": "x" } }),
                json!({ "in": { "externalId": "v", "nope": 1 } }),
                json!({ "in": "v" }),
                json!({ "in": null }),
            ],
        ),
    ];
    for (query, good, bads) in cases {
        let cold: Vec<_> = {
            let mut answers = vec![];
            for bad in &bads {
                answers.push(post_accepting(&app, gql, json!({ "query": query, "variables": bad })).await);
            }
            answers
        };
        let (ok, _, body) = post_accepting(&app, gql, json!({ "query": query, "variables": good })).await;
        assert_eq!(ok, 200, "{query} with {good}: {body}");
        assert!(body.get("errors").is_none(), "{query} with {good}: {body}");
        for (bad, cold) in bads.iter().zip(cold) {
            let warm = post_accepting(&app, gql, json!({ "query": query, "variables": bad })).await;
            assert_eq!(warm, cold, "{query} with {bad}");
        }
    }
    // The values themselves, once the document is validated: a request error, 400, no data.
    let (code, _, body) = post_accepting(&app, gql, json!({ "query": first, "variables": { "n": "x" } })).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(first_code(&body), "BAD_USER_INPUT");
    let (code, _, body) = post_accepting(&app, gql, json!({ "query": first, "variables": { "n": 1 } })).await;
    assert_eq!(code, 200);
    assert_eq!(body["data"]["learners"]["edges"].as_array().map(Vec::len), Some(1), "{body}");
}

async fn malformed_request_parameters_are_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    for (body, says) in [
        (json!({ "qurey": "{ __typename }" }), "needs `query`"),
        (json!({ "query": 7 }), "invalid type"),
        (json!({ "query": "{ __typename }", "variables": "{}" }), "invalid type"),
        (json!({ "query": "{ __typename }", "operationName": ["A"] }), "invalid type"),
        (json!({ "query": "{ __typename }", "extensions": 1 }), "invalid type"),
        (json!([]), "an empty batch"),
    ] {
        let (status, body) = app.post(None, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_code(&body), "BAD_REQUEST");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    // Unknown keys are ignored, null parameters are absent ones.
    let body = json!({ "query": "{ __typename }", "variables": null, "operationName": null, "id": "x" });
    let (status, body) = app.post(None, body).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["__typename"], "Query");
}

/// `{ a0: learner(…) { … } a1: … }`: `n` aliased copies of a learner view.
fn aliased_views(n: usize) -> String {
    let views: String = (0..n).map(|i| format!("a{i}: learner(externalId: \"many\") {{ externalId }} ")).collect();
    format!("{{ {views} }}")
}

async fn aliases_are_limited_through_fragments_and_before_the_database(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.learner("many").await;
    let body = app.ok(&aliased_views(20), json!({})).await;
    assert_eq!(body["a19"]["externalId"], "many", "20 aliases are allowed by default");
    let body = app.post(None, json!({ "query": aliased_views(21) })).await.1;
    assert!(body["errors"][0].get("locations").is_none(), "a document-wide refusal has no location: {body}");
    // 500 copies of the view: refused before a single statement reaches the database.
    let before = app.state.statements.get();
    let (status, body) = app.post(None, json!({ "query": aliased_views(500) })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "TOO_MANY_ALIASES", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("500 aliased fields"), "{body}");
    assert_eq!(app.state.statements.get(), before, "no statement ran");
    // A fragment counts every time it is spread: 3 aliases × 7 spreads = 21.
    let spread = "query { learner(externalId: \"many\") { ...F l1: learner { ...G } l2: learner { ...G } l3: learner { ...G } l4: learner { ...G } l5: learner { ...G } l6: learner { ...G } } } \
        fragment F on Learner { x: externalId y: externalId z: externalId } \
        fragment G on Learner { x: externalId y: externalId z: externalId }";
    assert_eq!(app.error_code(spread, json!({})).await, "TOO_MANY_ALIASES");
    // Only the selected operation counts: another operation's aliases cost nothing.
    let document =
        format!("query Small {{ learner(externalId: \"many\") {{ externalId }} }} query Big {}", aliased_views(40));
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "Small" })).await;
    assert_eq!(body["data"]["learner"]["externalId"], "many", "{body}");
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "Big" })).await;
    assert_eq!(first_code(&body), "TOO_MANY_ALIASES");
    // Parsed documents are kept by text and operation name: each answer holds when sent again.
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "Big" })).await;
    assert_eq!(first_code(&body), "TOO_MANY_ALIASES", "a refused document is refused again");
    let (_, body) = app.post(None, json!({ "query": document, "operationName": "Small" })).await;
    assert_eq!(body["data"]["learner"]["externalId"], "many", "{body}");
    // The limit is a setting.
    let strict = TestApp::spawn_with(b, Default::default(), |c| c.max_aliases = 2).await;
    strict.learner("many").await;
    assert_eq!(strict.error_code(&aliased_views(3), json!({})).await, "TOO_MANY_ALIASES");
    assert_eq!(strict.ok(&aliased_views(2), json!({})).await["a1"]["externalId"], "many");
}

async fn directives_per_field_and_tokens_per_document_are_limited(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| {
        c.max_directives = 2;
        c.max_tokens = 60;
    })
    .await;
    app.learner("d").await;
    let two = "{ learner(externalId: \"d\") { externalId @include(if: true) @skip(if: false) } }";
    assert_eq!(app.ok(two, json!({})).await["learner"]["externalId"], "d");
    let three = "{ learner(externalId: \"d\") { externalId @include(if: true) @skip(if: false) @include(if: true) } }";
    let (_, body) = app.post(None, json!({ "query": three })).await;
    assert_eq!(first_code(&body), "TOO_MANY_DIRECTIVES", "{body}");
    assert_eq!(body["errors"][0]["locations"][0]["line"], 1, "the field is located: {body}");
    let spread = "{ learner(externalId: \"d\") { ...F @include(if: true) @skip(if: false) @include(if: true) } } fragment F on Learner { externalId }";
    assert_eq!(app.error_code(spread, json!({})).await, "TOO_MANY_DIRECTIVES");
    // 61 tokens: refused before parsing, whatever the document says.
    let long = format!("{{ {} }}", "__typename ".repeat(59));
    let (_, body) = app.post(None, json!({ "query": long })).await;
    assert_eq!(first_code(&body), "TOO_MANY_TOKENS", "{body}");
    let fits = format!("{{ {} }}", "__typename ".repeat(58));
    assert_eq!(app.ok(&fits, json!({})).await["__typename"], "Query");
    // Comments and commas are not tokens.
    let commented = format!("# {}\n{{ {} }}", "x ".repeat(500), "__typename,".repeat(58));
    assert_eq!(app.ok(&commented, json!({})).await["__typename"], "Query");
}
