//! Trusted documents: with a manifest configured, learner tokens run only its documents (by id or
//! identical text), over HTTP and WebSocket; staff and services run anything unless the rule is
//! set for everyone. The manifest is built from `contract/` the way `learngraph trust` builds it.

use std::collections::BTreeMap;

use learngraph::config::{Role, Secret, TrustedFor};
use serde_json::{Value, json};

use crate::common::{Backend, SECRET, TestApp, first_code, http_client};
use crate::live::Ws;

crate::on_each_backend!(trusted_documents_bind_learner_tokens);

fn contract_manifest() -> BTreeMap<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/contract");
    let mut sources = vec![];
    for entry in std::fs::read_dir(dir).expect("contract/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "graphql") {
            sources.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
        }
    }
    learngraph::trusted::manifest(&sources).expect("manifest")
}

/// The manifest entry whose document starts with `head`.
fn entry<'a>(manifest: &'a BTreeMap<String, String>, head: &str) -> (&'a str, &'a str) {
    manifest
        .iter()
        .find(|(_, text)| text.starts_with(head))
        .map(|(id, text)| (id.as_str(), text.as_str()))
        .unwrap_or_else(|| panic!("no document starting with {head}"))
}

async fn spawn(b: Backend, manifest: &BTreeMap<String, String>, scope: TrustedFor) -> (TestApp, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join("persisted-documents.json");
    std::fs::write(&path, serde_json::to_string(manifest).expect("json")).expect("write manifest");
    let app = TestApp::spawn_with(b, Default::default(), |c| {
        c.jwt_secret = Some(Secret::new(SECRET));
        c.trusted_documents = Some(path.clone());
        c.trusted_documents_for = scope;
    })
    .await;
    (app, dir)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let dir = std::env::temp_dir().join(format!("learngraph-trusted-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }
}

async fn trusted_documents_bind_learner_tokens(b: Backend) {
    let manifest = contract_manifest();
    assert!(manifest.len() >= 40, "one document per contract operation: {}", manifest.len());
    let (app, _dir) = spawn(b, &manifest, TrustedFor::Learners).await;
    let learner_id = app.learner("tl").await;
    let learner = app.token("tl", Role::Learner);
    let staff = app.token("ops", Role::Staff);
    let (view_id, view) = entry(&manifest, "query FullLearnerView");
    let variables = json!({ "externalId": "tl" });
    let seen = |body: &Value| body["data"]["learner"]["externalId"] == "tl";

    // A listed document: by its text, by `documentId`, Relay's `doc_id`, or Apollo's hash.
    for request in [
        json!({ "query": view, "variables": variables }),
        json!({ "documentId": view_id, "variables": variables }),
        json!({ "doc_id": view_id, "variables": variables }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": view_id } }, "variables": variables }),
    ] {
        let (status, body) = app.post(Some(&learner), request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert!(seen(&body), "{body}");
    }
    let res = http_client()
        .get(app.url("/graphql"))
        .bearer_auth(&learner)
        .query(&[("documentId", view_id), ("variables", &variables.to_string())])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert!(seen(&res.json().await.expect("json")));

    // Anything else, even the same operation reformatted, is refused before it runs.
    for query in [view.replace('\n', " "), "{ learner(externalId: \"tl\") { externalId } }".to_owned()] {
        let (status, body) = app.post(Some(&learner), json!({ "query": query, "variables": variables })).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(first_code(&body), "DOCUMENT_NOT_TRUSTED");
    }
    let (status, body) = app.post(Some(&learner), json!({ "documentId": "0".repeat(64) })).await;
    assert_eq!((status, first_code(&body).as_str()), (400, "PERSISTED_DOCUMENT_NOT_FOUND"), "{body}");
    let (status, body) = app
        .post(Some(&learner), json!({ "documentId": view_id, "query": "{ __typename }", "variables": variables }))
        .await;
    assert_eq!((status, first_code(&body).as_str()), (400, "BAD_REQUEST"), "a text that is not the named one: {body}");
    // A mutation named by id is still refused by GET.
    let (ensure_id, _) = entry(&manifest, "mutation EnsureLearner");
    let res = http_client()
        .get(app.url("/graphql"))
        .bearer_auth(&learner)
        .query(&[("documentId", ensure_id), ("variables", "{\"externalId\":\"tl\"}")])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 405);

    // Staff run anything by default.
    let (status, body) =
        app.post(Some(&staff), json!({ "query": "{ learner(externalId: \"tl\") { externalId } }" })).await;
    assert_eq!(status, 200);
    assert!(seen(&body), "{body}");

    // Over WebSocket: an ad-hoc subscription is refused, the listed one runs.
    let mut ws = Ws::ready(app.addr, Some(&learner)).await;
    let ad_hoc = "subscription($l: ID!) { learnerActivity(learnerId: $l) { kind } }";
    ws.subscribe("1", ad_hoc, json!({ "l": learner_id })).await;
    let refused = ws.json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED");
    let (_, live) = entry(&manifest, "subscription LearnerActivity(");
    ws.subscribe("2", live, json!({ "learnerId": learner_id })).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    crate::fixtures::attempt(&app, &learner_id, "trusted", None, None).await;
    let next = ws.json().await;
    assert_eq!((next["type"].as_str(), next["id"].as_str()), (Some("next"), Some("2")), "{next}");
    assert_eq!(next["payload"]["data"]["learnerActivity"]["kind"], "ATTEMPT", "{next}");

    // Set for everyone, staff are bound too.
    let (strict, _dir) = spawn(b, &manifest, TrustedFor::Everyone).await;
    strict.learner("tl").await;
    let staff = strict.token("ops", Role::Staff);
    let (status, body) =
        strict.post(Some(&staff), json!({ "query": "{ learner(externalId: \"tl\") { externalId } }" })).await;
    assert_eq!((status, first_code(&body).as_str()), (403, "DOCUMENT_NOT_TRUSTED"));
    let (status, body) = strict.post(Some(&staff), json!({ "documentId": view_id, "variables": variables })).await;
    assert_eq!(status, 200);
    assert!(seen(&body), "{body}");
}
