//! SQL statements per request do not grow with list sizes: every relation under a list is batched.

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::fixtures::{attempt, event, start_session, statements};

crate::on_each_backend!(
    a_learners_lists_cost_the_same_statements_at_any_page_size,
    a_page_of_learners_costs_the_same_statements_at_any_page_size,
    profiling_fields_cost_the_same_statements_at_any_page_size,
    nested_connections_under_a_page_of_learners_cost_one_statement_each,
    a_relation_selected_only_for_its_id_costs_no_statement,
    more_parents_than_one_statement_holds_take_another,
    practice_days_of_learners_on_different_days_take_one_statement,
);

const ONE_LEARNER: &str = "query($e: String!, $n: Int!) {
  learner(externalId: $e) {
    streak { current } progress { totalAttempts accuracy }
    goals { id title learner { id } }
    attempts(first: $n) { edges { node { id goal { id title } session { id kind } learner { externalId } } } }
    events(first: $n) { edges { node { id goal { id title } } } }
    sessions(first: $n) { edges { node { id kind learner { id } } } }
  }
}";

async fn a_learners_lists_cost_the_same_statements_at_any_page_size(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("heavy").await;
    let goals = [app.goal(&learner).await, app.goal(&learner).await];
    for i in 0..24 {
        let session = start_session(&app, &learner, "PRACTICE").await;
        let goal = json!(goals[i % 2]);
        attempt(&app, &learner, "e", Some(&session), Some(&goal)).await;
        event(&app, &learner, "k", Some(&goal)).await;
    }
    let small = statements(&app, ONE_LEARNER, json!({ "e": "heavy", "n": 2 })).await;
    let large = statements(&app, ONE_LEARNER, json!({ "e": "heavy", "n": 20 })).await;
    assert_eq!(small, large, "statements for pages of 2 and of 20 differ: a relation is not batched");
    // learner, progress (streak and progress share it), goals, the three pages, and one batch per
    // relation under them: Attempt.goal, Attempt.session, LearnerEvent.goal.
    assert_eq!(small, 9, "one learner's view");
}

const PAGE: &str = "query($n: Int!) {
  learners(first: $n) { edges { node { externalId streak { current } progress { totalAttempts } goals { id } } } }
}";

async fn a_page_of_learners_costs_the_same_statements_at_any_page_size(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..12 {
        let id = app.learner(&format!("l{i}")).await;
        app.goal(&id).await;
        app.ok(
            "mutation($l: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"e\", isCorrect: true }) { attempt { id } } }",
            json!({ "l": id }),
        )
        .await;
    }
    let small = statements(&app, PAGE, json!({ "n": 2 })).await;
    let large = statements(&app, PAGE, json!({ "n": 12 })).await;
    assert_eq!(small, large, "statements for pages of 2 and of 12 learners differ: a relation is not batched");
    assert_eq!(small, 3, "the page, progress (streak and progress share it), goals");
}

const PROFILING_PAGE: &str = "query($n: Int!) {
  learners(first: $n) { nodes {
    externalId
    profiling { complete trackKey alignment { track percentage } }
    profilingSessions(first: 5) { id status responses { questionId } telemetry { primaryTrack } }
    portfolio { id kind }
    recipeRecommendations(first: 3) { slug reasons }
    coachingFocus { area }
  } }
}";

async fn profiling_fields_cost_the_same_statements_at_any_page_size(b: Backend) {
    let app = TestApp::spawn(b).await;
    for (slug, code) in [("net", "NET-101"), ("soc", "SOC-110"), ("prg", "PRG-101")] {
        app.ok(
            "mutation($s: String!, $c: String!) { upsertRecipe(input: { slug: $s, title: $s, skillCodes: [$c] }) { created } }",
            json!({ "s": slug, "c": code }),
        )
        .await;
    }
    for i in 0..8 {
        let id = app.learner(&format!("p{i}")).await;
        let answers = if i % 2 == 0 { crate::profiling::DEFENDER } else { crate::profiling::BEGINNER };
        let session = crate::profiling::start(&app, &id).await;
        crate::profiling::answer_all(&app, &session, answers, 3000).await;
        crate::profiling::complete(&app, &session).await;
        crate::profiling::start(&app, &id).await;
    }
    let small = statements(&app, PROFILING_PAGE, json!({ "n": 2 })).await;
    let large = statements(&app, PROFILING_PAGE, json!({ "n": 8 })).await;
    assert_eq!(small, large, "statements for pages of 2 and of 8 learners differ: a relation is not batched");
    // The page, outcomes (shared by profiling, coachingFocus and the recommendations), sessions,
    // responses, portfolio, and one UNION ALL of every learner's recommendations.
    assert_eq!(small, 6);
}

const NESTED_PAGE: &str = "query($n: Int!) {
  learners(first: $n) { nodes {
    externalId
    goals { id }
    streak { current } progress { totalAttempts }
    attempts(first: 5) { nodes { id goal { id } session { id } } pageInfo { hasNextPage } }
    sessions(first: 5) { nodes { id attempts(first: 3) { nodes { id } } } }
    events(first: 5, kind: \"opened\") { nodes { id } }
    journalEntries(first: 5) { nodes { id followUps { question } } }
    chatSessions(first: 5) { nodes { id } }
    meditationReflections(first: 5) { nodes { id } }
    preferences { category } interests struggles cognitiveMetrics { taskName } objectives { objectiveId }
    badges { badgeId }
  } }
}";

async fn nested_connections_under_a_page_of_learners_cost_one_statement_each(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..50 {
        let learner = app.learner(&format!("n{i:02}")).await;
        // Every fifth learner has a row in every table, so that pages of 5 and of 50 both reach
        // every relation of the query, whichever end the page starts from.
        if i % 5 == 4 {
            crate::fixtures::seed_every_table(&app, &learner).await;
        } else {
            let session = start_session(&app, &learner, "PRACTICE").await;
            attempt(&app, &learner, "e1", Some(&session), None).await;
            event(&app, &learner, "opened", None).await;
        }
    }
    let small = statements(&app, NESTED_PAGE, json!({ "n": 5 })).await;
    let large = statements(&app, NESTED_PAGE, json!({ "n": 50 })).await;
    assert_eq!(small, large, "statements for 5 and for 50 learners differ: a nested list is not batched");
    // Not only at best: every run of the wide page (more than 30 items, see `batch.rs`).
    for _ in 0..5 {
        let before = app.state.statements.get();
        app.ok(NESTED_PAGE, json!({ "n": 50 })).await;
        assert_eq!(app.state.statements.get() - before, small, "a run of the 50-learner page split a batch");
    }
    // The page; goals; progress; one per connection (attempts, sessions, events, journal entries,
    // chat sessions, reflections); Session.attempts, JournalEntry.followUps; preferences,
    // interests, struggles, cognitive metrics, objectives, badges. Attempt.goal and
    // Attempt.session are asked only for their ids, which cost nothing.
    assert_eq!(small, 17);
    // And each learner gets its own rows.
    let page = app.ok(NESTED_PAGE, json!({ "n": 50 })).await;
    let nodes = page["learners"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 50);
    for node in nodes {
        let sessions = node["sessions"]["nodes"].as_array().expect("sessions");
        assert!(!sessions.is_empty(), "{node}");
        assert_eq!(node["attempts"]["nodes"].as_array().expect("attempts").len(), 1, "{node}");
        assert_eq!(node["events"]["nodes"].as_array().expect("events").len(), 1, "{node}");
        let seeded = node["externalId"].as_str().is_some_and(|e| e.ends_with('4') || e.ends_with('9'));
        let (struggles, metric) =
            if seeded { (json!(["fractions"]), json!("memory")) } else { (json!([]), json!(null)) };
        assert_eq!((&node["struggles"], &node["cognitiveMetrics"][0]["taskName"]), (&struggles, &metric), "{node}");
    }
}

const BARE: &str = "{ learner(externalId: \"ids\") {
  attempts(first: 10) { nodes { id } } events(first: 10) { nodes { id } }
  chatSessions(first: 5) { nodes { id messages(first: 5) { id } } }
} }";
const IDS: &str = "{ learner(externalId: \"ids\") {
  attempts(first: 10) { nodes { id goal { id __typename } session { id } } } events(first: 10) { nodes { id goal { id } } }
  chatSessions(first: 5) { nodes { id messages(first: 5) { id session { id } } } }
} }";
const ROWS: &str = "{ learner(externalId: \"ids\") {
  attempts(first: 10) { nodes { id goal { id title } session { id kind } } } events(first: 10) { nodes { id goal { status } } }
  chatSessions(first: 5) { nodes { id messages(first: 5) { id session { startedAt } } } }
} }";

async fn a_relation_selected_only_for_its_id_costs_no_statement(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("ids").await;
    let goal = json!(app.goal(&learner).await);
    let session = start_session(&app, &learner, "PRACTICE").await;
    for _ in 0..3 {
        attempt(&app, &learner, "e", Some(&session), Some(&goal)).await;
        event(&app, &learner, "k", Some(&goal)).await;
    }
    let posted = app
        .ok(
            "mutation($l: ID!) { postChatMessages(input: { learnerId: $l, messages: [{ role: USER, content: \"hi\" }] }) { session { id } } }",
            json!({ "l": learner }),
        )
        .await;
    let chat = &posted["postChatMessages"]["session"]["id"];
    let bare = statements(&app, BARE, json!({})).await;
    assert_eq!(statements(&app, IDS, json!({})).await, bare, "`{{ id }}` of a goal or session reads nothing");
    // Any other field reads the rows: one batch per relation (Attempt.goal, Attempt.session,
    // LearnerEvent.goal, ChatMessage.session).
    assert_eq!(statements(&app, ROWS, json!({})).await, bare + 4);

    let ids = app.ok(IDS, json!({})).await;
    let rows = app.ok(ROWS, json!({})).await;
    for (i, node) in ids["learner"]["attempts"]["nodes"].as_array().expect("attempts").iter().enumerate() {
        assert_eq!((&node["goal"]["id"], &node["session"]["id"]), (&goal, &session), "{node}");
        assert_eq!(node["goal"]["__typename"], "Goal");
        let full = &rows["learner"]["attempts"]["nodes"][i];
        assert_eq!((&full["goal"]["title"], &full["session"]["kind"]), (&json!("T"), &json!("PRACTICE")), "{full}");
    }
    assert_eq!(ids["learner"]["events"]["nodes"][0]["goal"]["id"], goal);
    assert_eq!(rows["learner"]["events"]["nodes"][0]["goal"]["status"], "ACTIVE");
    let message = &ids["learner"]["chatSessions"]["nodes"][0]["messages"][0];
    assert_eq!(&message["session"]["id"], chat);
    assert!(rows["learner"]["chatSessions"]["nodes"][0]["messages"][0]["session"]["startedAt"].is_string());
}

const HISTORIES: &str = "query($n: Int!) {
  learners(first: $n) { nodes { externalId cognitiveMetrics { taskName history(first: 2) { metrics } } } }
}";

/// Nested lists under a list of parents are one `UNION ALL` statement of a branch per parent, at
/// most 400 branches (SQLite refuses a compound SELECT of more than 500 terms): 5 learners with 100
/// metrics each put 500 parents in one batch of `CognitiveMetric.history`.
async fn more_parents_than_one_statement_holds_take_another(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.max_complexity = 1_000_000).await;
    for l in 0..5 {
        let learner = app.learner(&format!("m{l}")).await;
        let metrics: Vec<_> =
            (0..100).map(|t| json!({ "taskName": format!("task{t:03}"), "metrics": { "l": l, "t": t } })).collect();
        app.ok(
            "mutation($l: ID!, $m: [CognitiveMetricEntry!]) { syncLearnerProfile(input: { learnerId: $l, cognitiveMetrics: $m }) { learner { id } } }",
            json!({ "l": learner, "m": metrics }),
        )
        .await;
    }
    let one = statements(&app, HISTORIES, json!({ "n": 1 })).await;
    let four = statements(&app, HISTORIES, json!({ "n": 4 })).await;
    let five = statements(&app, HISTORIES, json!({ "n": 5 })).await;
    // The page, the metrics, the histories: 100 and 400 parents fit one statement, 500 do not.
    assert_eq!((one, four, five), (3, 3, 4));
    let page = app.ok(HISTORIES, json!({ "n": 5 })).await;
    let nodes = page["learners"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 5);
    for node in nodes {
        let l: i64 = node["externalId"].as_str().and_then(|e| e[1..].parse().ok()).expect("m<digit>");
        let metrics = node["cognitiveMetrics"].as_array().expect("metrics");
        assert_eq!(metrics.len(), 100, "{}", node["externalId"]);
        for (t, metric) in metrics.iter().enumerate() {
            assert_eq!(metric["history"], json!([{ "metrics": { "l": l, "t": t } }]), "{metric}");
        }
    }
}

const DAYS: &str = "query($n: Int!) {
  learners(first: $n) { nodes { externalId timeZone progress { byDay(last: 3) { date attempts } } } }
}";

/// `progress.byDay` under a page of learners is one statement, even when the learners' time zones
/// put them on different days (so their ranges differ), and each learner gets its own days.
async fn practice_days_of_learners_on_different_days_take_one_statement(b: Backend) {
    let app = TestApp::spawn(b).await;
    let zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"];
    for i in 0..12 {
        let zone = zones[i % zones.len()];
        let created = app
            .ok(
                "mutation($e: String!, $z: String) { ensureLearner(input: { externalId: $e, timeZone: $z }) { learner { id } } }",
                json!({ "e": format!("l{i}"), "z": zone }),
            )
            .await;
        let id = created["ensureLearner"]["learner"]["id"].clone();
        for _ in 0..=i {
            app.ok(
                "mutation($l: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"e\", isCorrect: true }) { attempt { id } } }",
                json!({ "l": id }),
            )
            .await;
        }
    }
    let small = statements(&app, DAYS, json!({ "n": 3 })).await;
    let large = statements(&app, DAYS, json!({ "n": 12 })).await;
    assert_eq!(small, large, "statements for pages of 3 and of 12 learners differ: byDay is not batched");
    assert_eq!(small, 3, "the page, the progress rows and the practice days of all its learners");

    let data = app.ok(DAYS, json!({ "n": 12 })).await;
    let nodes = data["learners"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 12);
    let now = chrono::Utc::now();
    for node in nodes {
        let i: usize = node["externalId"].as_str().and_then(|e| e[1..].parse().ok()).expect("l<i>");
        let zone: chrono_tz::Tz = node["timeZone"].as_str().and_then(|z| z.parse().ok()).expect("zone");
        let days = node["progress"]["byDay"].as_array().expect("byDay");
        assert_eq!(days.len(), 3, "{node}");
        // Today in the learner's zone holds all of its attempts (a test running across a
        // midnight may see yesterday's date; the attempts were recorded moments ago).
        let today = now.with_timezone(&zone).date_naive();
        let last = &days[2];
        let yesterday = today.pred_opt().expect("yesterday");
        let on = [today.to_string(), yesterday.to_string()];
        assert!(on.contains(&last["date"].as_str().unwrap_or_default().to_owned()), "{node}");
        let total: i64 = days.iter().filter_map(|d| d["attempts"].as_i64()).sum();
        assert_eq!(total, i as i64 + 1, "{node}");
    }
}
