//! SQL statements per request do not grow with list sizes: every relation under a list is batched.

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::fixtures::{attempt, event, start_session, statements};

crate::on_each_backend!(
    a_learners_lists_cost_the_same_statements_at_any_page_size,
    a_page_of_learners_costs_the_same_statements_at_any_page_size,
    profiling_fields_cost_the_same_statements_at_any_page_size,
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
    // The page, outcomes, sessions, responses, portfolio, and recommendations (outcomes, then one
    // UNION ALL for every learner).
    assert_eq!(small, 7);
}
