//! Career profiling: sessions over the versioned question bank, answers, completion (telemetry,
//! outcome, the one Value Statement), portfolio, recipes, recommendations and coaching focus.

use learngraph::auth::Viewer;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, first_code};

crate::on_each_backend!(
    a_hand_computed_run_stores_telemetry_outcome_and_value_statement,
    completing_twice_and_profiling_again_keep_one_value_statement,
    answers_follow_the_rules_and_bad_ones_change_nothing,
    sixteen_concurrent_answers_lose_nothing,
    a_session_keeps_its_bank_version_after_a_new_one_is_published,
    portfolio_items_are_created_updated_and_deleted,
    recipes_are_upserted_listed_and_filtered,
    recommendations_come_in_the_documented_order_with_reasons,
    answer_retries_with_a_key_change_nothing,
    a_bank_file_is_published_at_start_once,
);

const START: &str = "mutation($l: ID!) { startProfilingSession(input: { learnerId: $l }) { session { id status bankVersion } created } }";
const ANSWER: &str = "mutation($s: ID!, $q: String!, $o: String!, $t: Int!, $k: String) {
  answerProfilingQuestion(input: { sessionId: $s, questionId: $q, selectedOption: $o, responseTimeMs: $t, idempotencyKey: $k }) {
    response { questionId selectedOption responseTimeMs }
  }
}";
const COMPLETE: &str = "mutation($s: ID!) {
  completeProfilingSession(input: { sessionId: $s }) {
    session { id status completedAt telemetry {
      technicalExposureScore workStyleCluster scenarioChoices difficultySelection
      alignment { track percentage } primaryTrack suspiciousTiming medianResponseTimeMs
      moduleScores { module score } weakModules answered } }
    learner { profiling { complete completedAt sessionId trackKey alignment { track percentage } }
              portfolio { kind title content profilingSessionId } }
  }
}";

/// Answers chosen so the telemetry can be computed by hand from `data/profiling/question-bank.json`.
///
/// Track weights: defender 2+2+2+2+1+3+3+2 = 17, offensive 2+1+1 = 4, leadership 1+1+2 = 4,
/// grc 1+1 = 2, innovation 0; total 27. Tenths 629.63, 148.15, 0, 148.15, 74.07: floors sum to
/// 999 and the spare tenth goes to the largest remainder (defender): 63.0, 14.8, 0.0, 14.8, 7.4.
/// Technical exposure (100 + 0 + 100) / 3 = 66.67 -> 67. Work style: analyst three times.
pub const DEFENDER: &[(&str, &str)] = &[
    ("te_networking", "deep"),
    ("te_programming", "none"),
    ("te_operating_systems", "administer"),
    ("ws_team_role", "investigator"),
    ("ws_pressure", "triage"),
    ("ws_focus", "deep_solo"),
    ("sp_incident", "contain"),
    ("sp_project", "soc"),
    ("df_challenge", "hard"),
    ("iv_motivation", "protect"),
    ("iv_recognition", "team"),
    ("rf_growth", "judgement"),
];

/// A beginner leaning to innovation: technical exposure (0 + 35 + 0) / 3 = 11.67, weak.
pub const BEGINNER: &[(&str, &str)] = &[
    ("te_networking", "never"),
    ("te_programming", "tutorials"),
    ("te_operating_systems", "user"),
    ("ws_team_role", "builder"),
    ("ws_pressure", "workaround"),
    ("ws_focus", "prototyping"),
    ("sp_incident", "redesign"),
    ("sp_project", "startup"),
    ("df_challenge", "gentle"),
    ("iv_motivation", "create"),
    ("iv_recognition", "expert"),
    ("rf_growth", "confidence"),
];

pub async fn start(app: &TestApp, learner: &str) -> String {
    app.ok(START, json!({ "l": learner })).await["startProfilingSession"]["session"]["id"]
        .as_str()
        .expect("session id")
        .to_owned()
}

pub async fn answer_all(app: &TestApp, session: &str, answers: &[(&str, &str)], ms: i64) {
    for (q, o) in answers {
        app.ok(ANSWER, json!({ "s": session, "q": q, "o": o, "t": ms })).await;
    }
}

pub async fn complete(app: &TestApp, session: &str) -> Value {
    app.ok(COMPLETE, json!({ "s": session })).await["completeProfilingSession"].clone()
}

/// A learner profiled to the end (with a keyed answer) and a portfolio project: rows in every
/// profiling table.
pub async fn seed_profiling(app: &TestApp, learner: &str) {
    let session = start(app, learner).await;
    answer_all(app, &session, DEFENDER, 3000).await;
    app.ok(ANSWER, json!({ "s": session, "q": "rf_growth", "o": "depth", "t": 2500, "k": "retry-1" })).await;
    complete(app, &session).await;
    app.ok(
        "mutation($l: ID!) { createPortfolioItem(input: { learnerId: $l, kind: PROJECT, title: \"Home lab\" }) { item { id } } }",
        json!({ "l": learner }),
    )
    .await;
}

fn percentages(alignment: &Value) -> Vec<(String, f64)> {
    alignment
        .as_array()
        .expect("alignment")
        .iter()
        .map(|s| (s["track"].as_str().expect("track").to_owned(), s["percentage"].as_f64().expect("pct")))
        .collect()
}

async fn a_hand_computed_run_stores_telemetry_outcome_and_value_statement(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ada").await;
    let before = app.ok("query { learner(externalId: \"ada\") { profiling { complete trackKey alignment { track } } coachingFocus { area } recipeRecommendations { id } portfolio { id } } }", json!({})).await;
    assert_eq!(
        before["learner"],
        json!({ "profiling": { "complete": false, "trackKey": null, "alignment": [] }, "coachingFocus": [], "recipeRecommendations": [], "portfolio": [] })
    );
    let session = start(&app, &learner).await;
    answer_all(&app, &session, DEFENDER, 3000).await;
    let done = complete(&app, &session).await;
    let t = &done["session"]["telemetry"];
    assert_eq!(done["session"]["status"], "COMPLETED");
    assert_eq!(t["technicalExposureScore"], 67);
    assert_eq!(t["workStyleCluster"], "analyst");
    assert_eq!(t["scenarioChoices"], json!(["contain", "soc"]));
    assert_eq!(t["difficultySelection"], "hard");
    assert_eq!(
        percentages(&t["alignment"]),
        vec![
            ("defender".into(), 63.0),
            ("offensive".into(), 14.8),
            ("innovation".into(), 0.0),
            ("leadership".into(), 14.8),
            ("grc".into(), 7.4)
        ]
    );
    let sum: f64 = percentages(&t["alignment"]).iter().map(|p| p.1).sum();
    assert!((sum - 100.0).abs() <= 0.5, "alignment sums to {sum}");
    assert_eq!(t["primaryTrack"], "defender");
    assert_eq!(t["suspiciousTiming"], false);
    assert_eq!(t["medianResponseTimeMs"], 3000);
    assert_eq!(t["weakModules"], json!([]));
    assert_eq!(t["answered"], 12);
    let scores: Vec<(String, i64)> = t["moduleScores"]
        .as_array()
        .expect("scores")
        .iter()
        .map(|s| (s["module"].as_str().expect("m").to_owned(), s["score"].as_f64().expect("s").round() as i64))
        .collect();
    assert_eq!(scores, vec![("technical_exposure".into(), 67), ("work_style".into(), 73), ("difficulty".into(), 90)]);
    let profiling = &done["learner"]["profiling"];
    assert_eq!(profiling["complete"], true);
    assert_eq!(profiling["trackKey"], t["primaryTrack"]);
    assert_eq!(profiling["sessionId"], done["session"]["id"]);
    assert_eq!(profiling["completedAt"], done["session"]["completedAt"]);
    assert_eq!(profiling["alignment"], t["alignment"]);
    assert_eq!(
        done["learner"]["portfolio"],
        json!([{
            "kind": "VALUE_STATEMENT",
            "title": "Value Statement",
            "content": "I want my work to keep people safe.\nMy team's success is my success.\nI want to judge risks wisely.",
            "profilingSessionId": session,
        }])
    );
    // Coaching focus: the primary track; offensive and leadership are 48.2 points behind.
    let focus =
        app.ok("query { learner(externalId: \"ada\") { coachingFocus { area reason skillCodes } } }", json!({})).await;
    assert_eq!(
        focus["learner"]["coachingFocus"],
        json!([{
            "area": "Blue-team foundations: monitoring, detection and incident response",
            "reason": "primary track defender at 63.0% alignment",
            "skillCodes": ["NET-101", "SOC-110", "IR-120"],
        }])
    );

    // A beginner: fast answers, weak technical exposure.
    let bea = app.learner("bea").await;
    let s2 = start(&app, &bea).await;
    answer_all(&app, &s2, BEGINNER, 400).await;
    let done = complete(&app, &s2).await;
    let t = &done["session"]["telemetry"];
    assert_eq!(t["technicalExposureScore"], 12);
    assert_eq!(t["workStyleCluster"], "builder");
    assert_eq!(t["primaryTrack"], "innovation");
    assert_eq!(t["suspiciousTiming"], true, "a median of 400 ms is faster than anyone reads");
    assert_eq!(t["weakModules"], json!(["technical_exposure", "difficulty"]));
    let focus = app.ok("query { learner(externalId: \"bea\") { coachingFocus { reason } } }", json!({})).await;
    let reasons: Vec<&str> = focus["learner"]["coachingFocus"]
        .as_array()
        .expect("focus")
        .iter()
        .map(|f| f["reason"].as_str().expect("r"))
        .collect();
    assert_eq!(reasons[0].split(" at ").next(), Some("primary track innovation"));
    assert!(reasons.contains(&"technical_exposure score 12 is below 40"), "{reasons:?}");
    assert!(reasons.contains(&"difficulty score 30 is below 40"), "{reasons:?}");
}

async fn completing_twice_and_profiling_again_keep_one_value_statement(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ada").await;
    let uuid = crate::common::uuid_of(&learner);
    let first = start(&app, &learner).await;
    answer_all(&app, &first, DEFENDER, 3000).await;
    let once = complete(&app, &first).await;
    let twice = complete(&app, &first).await;
    assert_eq!(once, twice, "completing again returns the same result");
    assert_eq!(app.count_rows("portfolio_items", Some(uuid)).await, 1);
    assert_eq!(app.count_rows("profiling_outcomes", Some(uuid)).await, 1);

    // A second session: started anew (the first is completed), scored on its own answers.
    let started = app.ok(START, json!({ "l": learner })).await;
    assert_eq!(started["startProfilingSession"]["created"], true);
    let second = started["startProfilingSession"]["session"]["id"].as_str().expect("id").to_owned();
    assert_ne!(second, first);
    answer_all(&app, &second, BEGINNER, 3000).await;
    let done = complete(&app, &second).await;
    assert_eq!(done["learner"]["profiling"]["trackKey"], "innovation");
    assert_eq!(done["learner"]["profiling"]["sessionId"], json!(second));
    let portfolio = done["learner"]["portfolio"].as_array().expect("portfolio");
    assert_eq!(portfolio.len(), 1, "exactly one VALUE_STATEMENT after a second session");
    assert_eq!(portfolio[0]["kind"], "VALUE_STATEMENT");
    assert_eq!(portfolio[0]["profilingSessionId"], json!(second));
    assert!(portfolio[0]["content"].as_str().expect("content").starts_with("I want to create things"));
    assert_eq!(app.count_rows("portfolio_items", Some(uuid)).await, 1);
    assert_eq!(app.count_rows("profiling_outcomes", Some(uuid)).await, 1);
    let sessions = app
        .ok(
            "query { learner(externalId: \"ada\") { profilingSessions { id status responses { questionId } } } }",
            json!({}),
        )
        .await;
    let sessions = sessions["learner"]["profilingSessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["id"], json!(second), "newest first");
    assert_eq!(sessions[1]["responses"].as_array().expect("responses").len(), 12);
}

async fn answers_follow_the_rules_and_bad_ones_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ada").await;
    let uuid = crate::common::uuid_of(&learner);
    let session = start(&app, &learner).await;
    let again = app.ok(START, json!({ "l": learner })).await;
    assert_eq!(again["startProfilingSession"]["created"], false);
    assert_eq!(again["startProfilingSession"]["session"]["id"], json!(session), "one IN_PROGRESS session");

    let bad = |q: &'static str, o: &'static str, t: i64| json!({ "s": session, "q": q, "o": o, "t": t });
    for (vars, field) in [
        (bad("astrology", "yes", 1000), "questionId"),
        (bad("te_networking", "wizard", 1000), "selectedOption"),
        (bad("te_networking", "deep", -1), "responseTimeMs"),
        (bad("te_networking", "deep", 3_600_001), "responseTimeMs"),
    ] {
        let response = app.exec_as(Viewer::Open, ANSWER, vars.clone()).await;
        assert_eq!(first_code(&response), "BAD_USER_INPUT", "{vars}");
        assert_eq!(response["errors"][0]["extensions"]["field"], field, "{response}");
    }
    assert_eq!(app.count_rows("profiling_responses", Some(uuid)).await, 0);

    // Answering a question again replaces the answer.
    app.ok(ANSWER, json!({ "s": session, "q": "te_networking", "o": "never", "t": 1000 })).await;
    app.ok(ANSWER, json!({ "s": session, "q": "te_networking", "o": "deep", "t": 2000 })).await;
    assert_eq!(app.count_rows("profiling_responses", Some(uuid)).await, 1);

    // Missing modules are listed, and nothing is written.
    let response = app.exec_as(Viewer::Open, COMPLETE, json!({ "s": session })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");
    let message = response["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("missing: work_style, scenario_preference, difficulty, identity_value, reflection"),
        "{message}"
    );
    assert_eq!(app.count_rows("profiling_outcomes", Some(uuid)).await, 0);
    assert_eq!(app.count_rows("portfolio_items", Some(uuid)).await, 0);

    answer_all(&app, &session, DEFENDER, 3000).await;
    complete(&app, &session).await;
    let response = app.exec_as(Viewer::Open, ANSWER, bad("te_networking", "never", 1000)).await;
    assert_eq!(first_code(&response), "CONFLICT", "a completed session takes no answers");
    let stored = app
        .ok(
            "query($s: ID!) { node(id: $s) { ... on ProfilingSession { responses { questionId selectedOption } } } }",
            json!({ "s": session }),
        )
        .await;
    assert!(
        stored["node"]["responses"]
            .as_array()
            .expect("responses")
            .contains(&json!({ "questionId": "te_networking", "selectedOption": "deep" }))
    );

    // A learner token answering another learner's session: FORBIDDEN (the scope table covers the
    // rest); a session id of another kind: BAD_USER_INPUT.
    let response = app
        .exec_as(Viewer::Learner { external_id: "mallory".into() }, ANSWER, bad("te_networking", "deep", 1000))
        .await;
    assert_eq!(first_code(&response), "FORBIDDEN");
    let response = app.exec_as(Viewer::Open, COMPLETE, json!({ "s": learner })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");
}

async fn answer_retries_with_a_key_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ada").await;
    let session = start(&app, &learner).await;
    let keyed = |o: &str, k: &str| json!({ "s": session, "q": "te_networking", "o": o, "t": 1500, "k": k });
    let first = app.ok(ANSWER, keyed("never", "k1")).await;
    let changed = app.ok(ANSWER, keyed("deep", "k2")).await;
    assert_eq!(changed["answerProfilingQuestion"]["response"]["selectedOption"], "deep");
    // A late retry of k1 returns the response as it stands and does not revert it.
    let retry = app.ok(ANSWER, keyed("never", "k1")).await;
    assert_eq!(retry["answerProfilingQuestion"]["response"]["selectedOption"], "deep");
    assert_eq!(first["answerProfilingQuestion"]["response"]["selectedOption"], "never");
    let uuid = crate::common::uuid_of(&learner);
    assert_eq!(app.count_rows("profiling_responses", Some(uuid)).await, 1);
    assert_eq!(app.count_rows("profiling_answer_keys", Some(uuid)).await, 2);
}

/// A valid bank with `n` extra questions in the reflection module.
fn bank_with_extra(n: usize) -> Value {
    let mut bank: Value = serde_json::from_str(learngraph::domain::profiling::DEFAULT_BANK).expect("bank");
    let questions = bank["questions"].as_array_mut().expect("questions");
    for i in 0..n {
        questions.push(json!({
            "id": format!("extra_{i}"), "module": "reflection", "prompt": format!("Extra question {i}?"),
            "options": [{ "value": "a", "label": "A" }, { "value": "b", "label": "B" }]
        }));
    }
    bank
}

const PUBLISH: &str = "mutation($b: JSON!) { publishProfilingQuestionBank(input: { bank: $b }) { bank { version questionCount publishedBy } created } }";

async fn sixteen_concurrent_answers_lose_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let published = app.ok(PUBLISH, json!({ "b": bank_with_extra(4) })).await;
    assert_eq!(published["publishProfilingQuestionBank"]["bank"]["questionCount"], 16);
    let learner = app.learner("ada").await;
    let session = start(&app, &learner).await;
    let mut questions: Vec<(String, String)> =
        DEFENDER.iter().map(|(q, o)| ((*q).to_owned(), (*o).to_owned())).collect();
    questions.extend((0..4).map(|i| (format!("extra_{i}"), "b".to_owned())));
    assert_eq!(questions.len(), 16);
    let tasks: Vec<_> = questions
        .iter()
        .map(|(q, o)| {
            let schema = app.schema.clone();
            let vars = json!({ "s": session, "q": q, "o": o, "t": 2000 });
            tokio::spawn(async move {
                let request = async_graphql::Request::new(ANSWER)
                    .variables(async_graphql::Variables::from_json(vars))
                    .data(Viewer::Open);
                serde_json::to_value(schema.execute(request).await).expect("json")
            })
        })
        .collect();
    for t in tasks {
        let response = t.await.expect("task");
        assert!(response.get("errors").is_none(), "{response}");
    }
    let stored = app
        .ok(
            "query($s: ID!) { node(id: $s) { ... on ProfilingSession { bankVersion responses { questionId selectedOption } } } }",
            json!({ "s": session }),
        )
        .await;
    let mut got: Vec<(String, String)> = stored["node"]["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| (r["questionId"].as_str().expect("q").to_owned(), r["selectedOption"].as_str().expect("o").to_owned()))
        .collect();
    got.sort();
    questions.sort();
    assert_eq!(got, questions, "every concurrent answer is stored");
    assert_eq!(stored["node"]["bankVersion"], 2);
    let done = complete(&app, &session).await;
    assert_eq!(done["session"]["telemetry"]["answered"], 16);
}

async fn a_session_keeps_its_bank_version_after_a_new_one_is_published(b: Backend) {
    let app = TestApp::spawn(b).await;
    let current = app.ok("query { profilingQuestionBank { version questionCount publishedBy } }", json!({})).await;
    assert_eq!(
        current["profilingQuestionBank"],
        json!({ "version": 1, "questionCount": 12, "publishedBy": "shipped" })
    );
    let ada = app.learner("ada").await;
    let old = start(&app, &ada).await;
    app.ok(ANSWER, json!({ "s": old, "q": "te_networking", "o": "deep", "t": 3000 })).await;

    // Version 2 drops the option "deep" and weighs "contain" towards grc instead.
    let mut v2: Value = serde_json::from_str(learngraph::domain::profiling::DEFAULT_BANK).expect("bank");
    v2["questions"][0]["options"].as_array_mut().expect("options").pop();
    v2["questions"][6]["options"][0]["weights"] = json!({ "grc": 3 });
    let published = app.ok(PUBLISH, json!({ "b": v2 })).await;
    assert_eq!(
        published["publishProfilingQuestionBank"],
        json!({ "bank": { "version": 2, "questionCount": 12, "publishedBy": "open" }, "created": true })
    );
    let same = app.ok(PUBLISH, json!({ "b": v2 })).await;
    assert_eq!(same["publishProfilingQuestionBank"]["created"], false, "the current bank again stores nothing");
    assert_eq!(same["publishProfilingQuestionBank"]["bank"]["version"], 2);

    let options = |v: Value| {
        v["profilingQuestions"][0]["options"]
            .as_array()
            .expect("options")
            .iter()
            .map(|o| o["value"].clone())
            .collect::<Vec<_>>()
    };
    let q =
        "query($v: Int) { profilingQuestions(module: \"technical_exposure\", version: $v) { id options { value } } }";
    assert_eq!(options(app.ok(q, json!({})).await), vec!["never", "basics", "configured"]);
    assert_eq!(options(app.ok(q, json!({ "v": 1 })).await), vec!["never", "basics", "configured", "deep"]);

    // The old session still takes and scores v1's answers; a new session refuses them.
    answer_all(&app, &old, DEFENDER, 3000).await;
    let done = complete(&app, &old).await;
    assert_eq!(done["session"]["telemetry"]["primaryTrack"], "defender");
    assert_eq!(done["session"]["telemetry"]["technicalExposureScore"], 67);
    assert_eq!(done["session"]["telemetry"]["alignment"][0]["percentage"], 63.0);
    let bea = app.learner("bea").await;
    let new = app.ok(START, json!({ "l": bea })).await;
    assert_eq!(new["startProfilingSession"]["session"]["bankVersion"], 2);
    let new = new["startProfilingSession"]["session"]["id"].as_str().expect("id").to_owned();
    let response =
        app.exec_as(Viewer::Open, ANSWER, json!({ "s": new, "q": "te_networking", "o": "deep", "t": 3000 })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");

    // A broken bank is refused with every problem, and stores nothing.
    let mut broken = v2.clone();
    broken["questions"][0]["module"] = json!("astrology");
    broken["questions"][1]["options"][0]["weights"] = json!({ "wizard": 1 });
    let response = app.exec_as(Viewer::Open, PUBLISH, json!({ "b": broken })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");
    let message = response["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("unknown module `astrology`") && message.contains("unknown track `wizard`"), "{message}");
    assert_eq!(app.count_rows("profiling_question_banks", None).await, 2);
    // Learner tokens and services may not publish.
    for viewer in [Viewer::Learner { external_id: "ada".into() }, Viewer::Service { sub: "tutor".into() }] {
        let response = app.exec_as(viewer, PUBLISH, json!({ "b": bank_with_extra(1) })).await;
        assert_eq!(first_code(&response), "FORBIDDEN");
    }
}

async fn portfolio_items_are_created_updated_and_deleted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ada").await;
    let create = "mutation($l: ID!, $k: PortfolioKind!, $t: String!, $u: String) {
      createPortfolioItem(input: { learnerId: $l, kind: $k, title: $t, content: \"Built a lab\", url: $u }) { item { id kind title content url } } }";
    let item = app
        .ok(create, json!({ "l": learner, "k": "PROJECT", "t": "  Home lab ", "u": "https://example.org/lab" }))
        .await;
    let item = item["createPortfolioItem"]["item"].clone();
    assert_eq!(item["title"], "Home lab");
    assert_eq!(item["url"], "https://example.org/lab");
    for (vars, field) in [
        (json!({ "l": learner, "k": "VALUE_STATEMENT", "t": "Mine" }), "kind"),
        (json!({ "l": learner, "k": "PROJECT", "t": " " }), "title"),
        (json!({ "l": learner, "k": "PROJECT", "t": "x", "u": "javascript:alert(1)" }), "url"),
    ] {
        let response = app.exec_as(Viewer::Open, create, vars).await;
        assert_eq!(first_code(&response), "BAD_USER_INPUT");
        assert_eq!(response["errors"][0]["extensions"]["field"], field);
    }
    let update = "mutation($i: ID!, $t: String) { updatePortfolioItem(input: { itemId: $i, title: $t, url: null }) { item { title content url } } }";
    let updated = app.ok(update, json!({ "i": item["id"], "t": "Lab v2" })).await;
    assert_eq!(
        updated["updatePortfolioItem"]["item"],
        json!({ "title": "Lab v2", "content": "Built a lab", "url": null })
    );

    // The Value Statement belongs to profiling.
    let session = start(&app, &learner).await;
    answer_all(&app, &session, DEFENDER, 3000).await;
    complete(&app, &session).await;
    let items = app.ok("query { learner(externalId: \"ada\") { portfolio { id kind } } }", json!({})).await;
    let value_statement = items["learner"]["portfolio"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "VALUE_STATEMENT")
        .expect("value statement")["id"]
        .clone();
    let response = app.exec_as(Viewer::Open, update, json!({ "i": value_statement, "t": "Mine" })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");
    let delete = "mutation($i: ID!) { deletePortfolioItem(input: { itemId: $i }) { deletedItemId } }";
    assert_eq!(first_code(&app.exec_as(Viewer::Open, delete, json!({ "i": value_statement })).await), "BAD_USER_INPUT");
    let deleted = app.ok(delete, json!({ "i": item["id"] })).await;
    assert_eq!(deleted["deletePortfolioItem"]["deletedItemId"], item["id"]);
    assert_eq!(first_code(&app.exec_as(Viewer::Open, delete, json!({ "i": item["id"] })).await), "NOT_FOUND");
    let items = app.ok("query { learner(externalId: \"ada\") { portfolio { kind } } }", json!({})).await;
    assert_eq!(items["learner"]["portfolio"], json!([{ "kind": "VALUE_STATEMENT" }]));
}

const UPSERT: &str = "mutation($s: String!, $t: String!, $c: [String!]!, $u: Int, $r: Float, $a: Boolean) {
  upsertRecipe(input: { slug: $s, title: $t, skillCodes: $c, usageCount: $u, avgRating: $r, isActive: $a }) {
    recipe { id slug title skillCodes usageCount avgRating isActive } created } }";

async fn recipe(app: &TestApp, slug: &str, codes: &[&str], usage: i64, rating: f64, active: bool) {
    app.ok(
        UPSERT,
        json!({ "s": slug, "t": format!("Recipe {slug}"), "c": codes, "u": usage, "r": rating, "a": active }),
    )
    .await;
}

async fn recipes_are_upserted_listed_and_filtered(b: Backend) {
    let app = TestApp::spawn(b).await;
    let first = app.ok(UPSERT, json!({ "s": "net-basics", "t": "Networks", "c": ["NET-101", "NET-101"] })).await;
    assert_eq!(first["upsertRecipe"]["created"], true);
    assert_eq!(first["upsertRecipe"]["recipe"]["skillCodes"], json!(["NET-101"]), "duplicates are dropped");
    assert_eq!(first["upsertRecipe"]["recipe"]["isActive"], true);
    let again = app
        .ok(UPSERT, json!({ "s": "net-basics", "t": "Networks 2", "c": ["SOC-110"], "u": 7, "r": 4.5, "a": false }))
        .await;
    assert_eq!(again["upsertRecipe"]["created"], false);
    assert_eq!(again["upsertRecipe"]["recipe"]["id"], first["upsertRecipe"]["recipe"]["id"]);
    assert_eq!(again["upsertRecipe"]["recipe"]["title"], "Networks 2");
    for (vars, field) in [
        (json!({ "s": "Bad Slug", "t": "x", "c": [] }), "slug"),
        (json!({ "s": "ok", "t": "x", "c": ["lower-case"] }), "skillCodes"),
        (json!({ "s": "ok", "t": "x", "c": [], "r": 5.5 }), "avgRating"),
        (json!({ "s": "ok", "t": "x", "c": [], "u": -1 }), "usageCount"),
    ] {
        let response = app.exec_as(Viewer::Open, UPSERT, vars).await;
        assert_eq!(first_code(&response), "BAD_USER_INPUT");
        assert_eq!(response["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count_rows("recipes", None).await, 1);
    for i in 0..5 {
        recipe(&app, &format!("r{i}"), &["NET-101"], i, 3.0, true).await;
    }
    let list = "query($n: Int, $a: String, $c: String) { recipes(first: $n, after: $a, skillCode: $c) { nodes { slug } pageInfo { hasNextPage endCursor } } }";
    let page = app.ok(list, json!({ "n": 3, "c": "NET-101" })).await;
    let slugs = |p: &Value| {
        p["recipes"]["nodes"].as_array().expect("nodes").iter().map(|n| n["slug"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(slugs(&page), vec!["r4", "r3", "r2"], "newest first");
    let next = app.ok(list, json!({ "n": 3, "c": "NET-101", "a": page["recipes"]["pageInfo"]["endCursor"] })).await;
    assert_eq!(slugs(&next), vec!["r1", "r0"]);
    assert_eq!(next["recipes"]["pageInfo"]["hasNextPage"], false);
    let soc = app.ok(list, json!({ "c": "SOC-110" })).await;
    assert_eq!(slugs(&soc), vec!["net-basics"]);
    // Learner tokens may read the catalog but not write it.
    let viewer = Viewer::Learner { external_id: "ada".into() };
    assert!(app.exec_as(viewer.clone(), list, json!({})).await.get("errors").is_none());
    let response = app.exec_as(viewer, UPSERT, json!({ "s": "x", "t": "x", "c": [] })).await;
    assert_eq!(first_code(&response), "FORBIDDEN");
}

async fn recommendations_come_in_the_documented_order_with_reasons(b: Backend) {
    let app = TestApp::spawn(b).await;
    recipe(&app, "a-net", &["NET-101"], 50, 4.0, true).await;
    recipe(&app, "b-soc", &["SOC-110"], 50, 4.5, true).await;
    recipe(&app, "c-ir", &["IR-120"], 50, 4.5, true).await;
    recipe(&app, "d-inactive", &["NET-101"], 999, 5.0, false).await;
    recipe(&app, "e-python", &["PRG-101"], 500, 5.0, true).await;
    recipe(&app, "f-both", &["NET-101", "SOC-110"], 10, 5.0, true).await;
    recipe(&app, "g-top", &["IR-120"], 100, 1.0, true).await;
    let ada = app.learner("ada").await;
    let session = start(&app, &ada).await;
    answer_all(&app, &session, DEFENDER, 3000).await;
    complete(&app, &session).await;
    let q =
        "query($e: String!, $n: Int) { learner(externalId: $e) { recipeRecommendations(first: $n) { slug reasons } } }";
    let recs = app.ok(q, json!({ "e": "ada" })).await;
    assert_eq!(
        recs["learner"]["recipeRecommendations"],
        json!([
            { "slug": "g-top", "reasons": ["matches gap skill IR-120 from track defender"] },
            { "slug": "b-soc", "reasons": ["matches gap skill SOC-110 from track defender"] },
            { "slug": "c-ir", "reasons": ["matches gap skill IR-120 from track defender"] },
            { "slug": "a-net", "reasons": ["matches gap skill NET-101 from track defender"] },
            { "slug": "f-both", "reasons": ["matches gap skill NET-101 from track defender", "matches gap skill SOC-110 from track defender"] },
        ])
    );
    let top = app.ok(q, json!({ "e": "ada", "n": 2 })).await;
    assert_eq!(top["learner"]["recipeRecommendations"].as_array().expect("recs").len(), 2);
    let response = app.exec_as(Viewer::Open, q, json!({ "e": "ada", "n": 0 })).await;
    assert_eq!(first_code(&response), "BAD_USER_INPUT");

    // A beginner on the innovation track with weak technical exposure: the weak module's skills
    // count too.
    let bea = app.learner("bea").await;
    let session = start(&app, &bea).await;
    answer_all(&app, &session, BEGINNER, 3000).await;
    complete(&app, &session).await;
    let recs = app.ok(q, json!({ "e": "bea" })).await;
    assert_eq!(
        recs["learner"]["recipeRecommendations"],
        json!([
            { "slug": "e-python", "reasons": ["matches gap skill PRG-101 from track innovation", "matches gap skill PRG-101 from weak module technical_exposure"] },
            { "slug": "a-net", "reasons": ["matches gap skill NET-101 from weak module technical_exposure"] },
            { "slug": "f-both", "reasons": ["matches gap skill NET-101 from weak module technical_exposure"] },
        ])
    );
    // Both learners in one page: each gets its own list (one statement for all of them).
    let page = app
        .ok(
            "query { learners(first: 10) { nodes { externalId recipeRecommendations(first: 1) { slug } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["learners"]["nodes"],
        json!([
            { "externalId": "bea", "recipeRecommendations": [{ "slug": "e-python" }] },
            { "externalId": "ada", "recipeRecommendations": [{ "slug": "g-top" }] },
        ])
    );
}

async fn a_bank_file_is_published_at_start_once(b: Backend) {
    let path = std::env::temp_dir().join(format!("learngraph-bank-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, bank_with_extra(2).to_string()).expect("write");
    let file = path.clone();
    let mut app = TestApp::spawn_with(b, Default::default(), move |c| c.profiling_bank = Some(file)).await;
    let q = "query { profilingQuestionBank { version questionCount publishedBy } }";
    let first = app.ok(q, json!({})).await;
    assert_eq!(first["profilingQuestionBank"]["version"], 1, "an empty database gets the file as version 1");
    assert_eq!(first["profilingQuestionBank"]["questionCount"], 14);
    assert!(first["profilingQuestionBank"]["publishedBy"].as_str().expect("by").starts_with("file "));
    app.restart().await;
    assert_eq!(app.ok(q, json!({})).await, first, "the same file again stores nothing");
    std::fs::write(&path, bank_with_extra(3).to_string()).expect("write");
    app.restart().await;
    let changed = app.ok(q, json!({})).await;
    assert_eq!(changed["profilingQuestionBank"]["version"], 2, "a changed file is published as the next version");
    assert_eq!(changed["profilingQuestionBank"]["questionCount"], 15);
    std::fs::remove_file(path).ok();
}
