//! Crash safety: the server killed with SIGKILL in the middle of 32 concurrent writers loses no
//! acknowledged write, and leaves nothing half-written: after a restart on the same database,
//! every acknowledged attempt is there, and the counters, statistics and streaks kept beside the
//! attempts equal what a rebuild from the attempt rows gives.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, http_client, uuid_of};

crate::on_each_backend!(acknowledged_writes_survive_sigkill);

const RECORD: &str = "mutation($l: ID!, $e: String!, $c: Boolean!, $at: DateTime, $s: ID) { recordAttempt(input: { \
    learnerId: $l, exerciseId: $e, isCorrect: $c, occurredAt: $at, sessionId: $s }) { attempt { id } } }";

const DERIVED: &str = "query($l: ID!) { node(id: $l) { ... on Learner { \
    streak { current longest lastPracticeDate } \
    progress { totalAttempts correctAttempts accuracy exercisesAttempted byDay(last: 10) { date attempts correct } \
      byExercise(first: 100) { exerciseId attempts correct lastAttemptAt } } \
    sessions(first: 10) { edges { node { id totalExercises correctAnswers } } } } } }";

const WRITERS: usize = 32;
const LEARNERS: usize = 4;

async fn post(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Option<Value> {
    let res = client.post(url).json(&json!({ "query": query, "variables": variables })).send().await.ok()?;
    let body: Value = res.json().await.ok()?;
    body.get("errors").is_none().then(|| body["data"].clone())
}

async fn acknowledged_writes_survive_sigkill(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut learners = vec![];
    for i in 0..LEARNERS {
        let learner = app.learner(&format!("crash-{i}")).await;
        let session = app
            .ok(
                "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } } }",
                json!({ "l": learner }),
            )
            .await["startSession"]["session"]["id"]
            .clone();
        learners.push((learner, session));
    }
    let (mut child, addr, _) = crate::cli::serve(app.database_url());
    let url = format!("http://{addr}/graphql");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let now = chrono::Utc::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (url, acknowledged, (learner, session)) =
                (url.clone(), acknowledged.clone(), learners[w % LEARNERS].clone());
            tokio::spawn(async move {
                let client = http_client();
                for i in 0.. {
                    // Spread over four local days and seven exercises, half in the session.
                    let at = now - chrono::Duration::days((i % 4) as i64) - chrono::Duration::seconds(w as i64);
                    let variables = json!({
                        "l": learner, "e": format!("ex-{}", (w + i) % 7), "c": i % 3 != 0, "at": at.to_rfc3339(),
                        "s": if i % 2 == 0 { session.clone() } else { Value::Null },
                    });
                    match post(&client, &url, RECORD, variables).await {
                        Some(data) => {
                            let id = data["recordAttempt"]["attempt"]["id"].as_str().expect("id").to_owned();
                            acknowledged.lock().expect("lock").push(id);
                        }
                        // The server is gone: what was not acknowledged may or may not be there.
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Kill it mid-flight, once a good number of writes are acknowledged.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().expect("lock").len() < 200 {
        assert!(std::time::Instant::now() < deadline, "writers made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    for writer in writers {
        writer.await.expect("writer");
    }
    let acknowledged: HashSet<uuid::Uuid> = acknowledged.lock().expect("lock").iter().map(|id| uuid_of(id)).collect();

    // Restart on the same database.
    let (mut child, addr, _) = crate::cli::serve(app.database_url());
    let url = format!("http://{addr}/graphql");
    let client = http_client();
    let stored: HashSet<uuid::Uuid> =
        entity::attempt::Entity::find().all(&app.state.db).await.expect("attempts").into_iter().map(|a| a.id).collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged attempts lost: {lost:?}", lost.len());
    assert!(stored.len() >= acknowledged.len());

    for (learner, _) in &learners {
        let id = uuid_of(learner);
        let kept = post(&client, &url, DERIVED, json!({ "l": learner })).await.expect("read after restart");
        let attempts = app.count_rows("attempts", Some(id)).await;
        assert_eq!(kept["node"]["progress"]["totalAttempts"], attempts, "totals agree with the rows");
        // Each attempt was written with its activity-feed row, in one transaction.
        let activities = entity::activity::Entity::find()
            .filter(entity::activity::Column::LearnerId.eq(id))
            .filter(entity::activity::Column::Kind.eq(entity::activity::ActivityKind::Attempt))
            .all(&app.state.db)
            .await
            .expect("activities");
        assert_eq!(activities.len() as i64, attempts, "one feed row per attempt, none half-written");
        // The counters equal what a rebuild from the attempt rows gives.
        let txn = app.state.db.begin().await.expect("begin");
        learngraph::store::practice::rebuild(&txn, id).await.expect("rebuild");
        txn.commit().await.expect("commit");
        let rebuilt = post(&client, &url, DERIVED, json!({ "l": learner })).await.expect("read after rebuild");
        assert_eq!(kept, rebuilt, "counters kept by the writes differ from a rebuild");
    }
    child.kill().ok();
    child.wait().ok();
}
