//! Data protection: export (complete by the catalog, stable by a snapshot), the access log, erasure
//! records, and retention (dry run, real run, scheduled sweep beside live writes).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use learngraph::auth::Viewer;
use learngraph::clock::Clock;
use learngraph::config::Role;
use learngraph::store::retention::{self, Policy};
use serde_json::{Value, json};

use crate::common::{Backend, SECRET, TestApp, first_code, uuid_of};
use crate::fixtures::seed_every_table;

crate::on_each_backend!(
    export_holds_every_table_with_a_learner_id,
    export_of_a_seeded_learner_matches_the_snapshot,
    export_is_bounded_over_graphql_and_refused_to_other_learners,
    staff_and_service_accesses_are_logged_once_per_request_and_learner,
    an_access_that_cannot_be_recorded_withholds_the_read,
    erasure_keeps_only_a_hashed_record,
    retention_dry_run_counts_exactly_and_the_run_deletes_exactly_that,
    scheduled_retention_runs_beside_live_writes,
    the_commands_export_and_sweep_the_same_database,
);

const EXPORT: &str = "query($l: ID!) { exportLearner(id: $l) }";

fn staff() -> Viewer {
    Viewer::Staff { sub: "alice".into() }
}

/// Every table whose catalog entry has a `learner_id` column is in the export, with exactly the
/// learner's rows: a new table cannot be left out.
async fn export_holds_every_table_with_a_learner_id(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("exported").await;
    seed_every_table(&app, &learner).await;
    let other = app.learner("bystander").await;
    seed_every_table(&app, &other).await;
    let doc = app.ok(EXPORT, json!({ "l": learner })).await["exportLearner"].clone();
    assert_eq!(doc["formatVersion"], json!(1));
    assert_eq!(doc["learner"]["external_id"], json!("exported"));
    let (_, columns) = crate::common::catalog(&app).await;
    let mut checked = 0;
    for (table, _) in columns.iter().filter(|(_, c)| c == "learner_id") {
        let rows = doc["tables"][table].as_array().unwrap_or_else(|| panic!("the export has no `{table}`"));
        let stored = app.count_rows(table, Some(uuid_of(&learner))).await;
        assert_eq!(rows.len() as i64, stored, "`{table}`: the export holds every row of the learner");
        assert!(stored > 0, "`{table}` is seeded, so the check means something");
        let owner = uuid_of(&learner).to_string();
        assert!(rows.iter().all(|r| r["learner_id"] == json!(owner)), "`{table}` holds only this learner's rows");
        checked += 1;
    }
    assert!(checked >= 30, "every learner table was checked ({checked})");
}

/// Ids, times and dates replaced by placeholders; rows of each table sorted, so the snapshot is
/// the same on both engines and on every run.
fn redact(v: &Value) -> Value {
    match v {
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => json!("<uuid>"),
        Value::String(s) if DateTime::parse_from_rfc3339(s).is_ok() => json!("<time>"),
        Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => json!("<date>"),
        Value::String(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => json!("<hash>"),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(redact).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        other => other.clone(),
    }
}

async fn export_of_a_seeded_learner_matches_the_snapshot(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("snapshot").await;
    seed_every_table(&app, &learner).await;
    let doc = app.ok(EXPORT, json!({ "l": learner })).await["exportLearner"].clone();
    let redacted = serde_json::to_string_pretty(&redact(&doc)).expect("json") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/export.json");
    if std::env::var("LEARNGRAPH_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &redacted).expect("write snapshot");
    }
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored == redacted,
        "the export differs from tests/snapshots/export.json; if the change is meant, run \
         LEARNGRAPH_UPDATE_SNAPSHOTS=1 cargo test export_of_a_seeded and review the diff:\n{redacted}"
    );
}

async fn export_is_bounded_over_graphql_and_refused_to_other_learners(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::System, |c| c.max_export_bytes = 4_000).await;
    let learner = app.learner("big").await;
    seed_every_table(&app, &learner).await;
    let response = app.exec_as(Viewer::Open, EXPORT, json!({ "l": learner })).await;
    assert_eq!(first_code(&response), "TOO_LARGE", "{response}");
    let message = response["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("learngraph export"), "the error says what to use instead: {message}");

    let small = app.learner("small").await;
    let own = app.exec_as(Viewer::Learner { external_id: "small".into() }, EXPORT, json!({ "l": small })).await;
    assert_eq!(own["data"]["exportLearner"]["learner"]["external_id"], json!("small"), "{own}");
    let other = app.exec_as(Viewer::Learner { external_id: "small".into() }, EXPORT, json!({ "l": learner })).await;
    assert_eq!(first_code(&other), "FORBIDDEN");
}

/// Nothing read goes unrecorded: when the access log cannot be written, a staff read answers
/// INTERNAL without its data, and a staff write (committed by then) says so beside its data.
async fn an_access_that_cannot_be_recorded_withholds_the_read(b: Backend) {
    use sea_orm::ConnectionTrait;
    let app =
        TestApp::spawn_with(b, Clock::System, |c| c.jwt_secret = Some(learngraph::config::Secret::new(SECRET))).await;
    let a = app.learner("unrecorded").await;
    let read = "query($a: ID!) { learner(id: $a) { externalId } }";
    let fine = app.exec_as(staff(), read, json!({ "a": a })).await;
    assert_eq!(fine["data"]["learner"]["externalId"], "unrecorded", "{fine}");

    app.state.db.execute_unprepared("ALTER TABLE access_log RENAME TO access_log_away").await.expect("rename");
    let withheld = app.exec_as(staff(), read, json!({ "a": a })).await;
    assert_eq!(withheld["data"], Value::Null, "{withheld}");
    assert_eq!(first_code(&withheld), "INTERNAL");
    assert!(withheld["errors"][0]["message"].as_str().unwrap_or_default().contains("could not be recorded"));
    let write = "mutation($a: ID!) { logEvent(input: { learnerId: $a, kind: \"hint\" }) { event { kind } } }";
    let written = app.exec_as(staff(), write, json!({ "a": a })).await;
    assert_eq!(written["data"]["logEvent"]["event"]["kind"], "hint", "{written}");
    assert_eq!(first_code(&written), "INTERNAL");
    // A learner's own read is not recorded, so it is not withheld.
    let own = app.exec_as(Viewer::Learner { external_id: "unrecorded".into() }, read, json!({ "a": a })).await;
    assert_eq!(own["data"]["learner"]["externalId"], "unrecorded", "{own}");

    app.state.db.execute_unprepared("ALTER TABLE access_log_away RENAME TO access_log").await.expect("rename back");
    assert_eq!(access_log_rows(&app, &a).await.len(), 1, "only the first read was recorded");
}

async fn access_log_rows(app: &TestApp, learner: &str) -> Vec<Value> {
    let query =
        "query($l: ID!) { accessLog(learnerId: $l, first: 100) { nodes { actor role action operationName fields } } }";
    // Read as open mode, which is not logged, so reading does not change what is read.
    let data = app.ok(query, json!({ "l": learner })).await;
    data["accessLog"]["nodes"].as_array().expect("nodes").clone()
}

async fn staff_and_service_accesses_are_logged_once_per_request_and_learner(b: Backend) {
    let app =
        TestApp::spawn_with(b, Clock::System, |c| c.jwt_secret = Some(learngraph::config::Secret::new(SECRET))).await;
    let a = app.learner("log-a").await;
    let b_id = app.learner("log-b").await;

    // One request touching `a` through two top-level fields and `b` through one: one row each.
    let both = "query Review($a: ID!, $b: ID!, $e: String!) { first: learner(id: $a) { id } again: learner(externalId: $e) { goals { id } } other: node(id: $b) { id } }";
    let r = app.exec_named(staff(), both, "Review", json!({ "a": a, "b": b_id, "e": "log-a" })).await;
    assert!(r.get("errors").is_none(), "{r}");
    let rows = access_log_rows(&app, &a).await;
    assert_eq!(
        rows,
        vec![
            json!({ "actor": "alice", "role": "staff", "action": "READ", "operationName": "Review", "fields": ["learner"] })
        ]
    );
    let rows = access_log_rows(&app, &b_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["fields"], json!(["node"]));

    // A burst of reads: one row per request, never more.
    for _ in 0..5 {
        app.exec_as(
            staff(),
            "query($a: ID!) { learner(id: $a) { attempts(first: 5) { nodes { id } } events { nodes { id } } } }",
            json!({ "a": a }),
        )
        .await;
    }
    assert_eq!(access_log_rows(&app, &a).await.len(), 6);

    // A service write is a WRITE.
    let service = Viewer::Service { sub: "tutor-bot".into() };
    let w = app
        .exec_as(
            service,
            "mutation($a: ID!) { logEvent(input: { learnerId: $a, kind: \"hint\" }) { event { id } } }",
            json!({ "a": a }),
        )
        .await;
    assert!(w.get("errors").is_none(), "{w}");
    let newest = &access_log_rows(&app, &a).await[0];
    assert_eq!(newest["action"], json!("WRITE"));
    assert_eq!(newest["actor"], json!("tutor-bot"));
    assert_eq!(newest["role"], json!("service"));
    assert_eq!(newest["fields"], json!(["logEvent"]));

    // The learner's own reads are not logged, and it can read who read it.
    let own = Viewer::Learner { external_id: "log-a".into() };
    let mine = app
        .exec_as(own.clone(), "{ viewer { accessLog(first: 50) { nodes { actor action } } goals { id } } }", json!({}))
        .await;
    let seen = mine["data"]["viewer"]["accessLog"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(seen.len(), 7, "{mine}");
    assert_eq!(access_log_rows(&app, &a).await.len(), 7, "the learner's own read added nothing");
    // Open mode is not logged either.
    app.ok("query($a: ID!) { learner(id: $a) { id } }", json!({ "a": a })).await;
    assert_eq!(access_log_rows(&app, &a).await.len(), 7);

    // `since` filters, and the staff query is staff only.
    let later = app.clock.now() + TimeDelta::hours(1);
    let none = app
        .ok(
            "query($a: ID!, $t: DateTime!) { accessLog(learnerId: $a, since: $t) { nodes { actor } } }",
            json!({ "a": a, "t": later }),
        )
        .await;
    assert_eq!(none["accessLog"]["nodes"], json!([]));
    let refused =
        app.exec_as(own, "query($a: ID!) { accessLog(learnerId: $a) { nodes { actor } } }", json!({ "a": a })).await;
    assert_eq!(first_code(&refused), "FORBIDDEN");

    // Through the real router too: a staff token's read is logged with its `sub`.
    let token = app.token("bob", Role::Staff);
    let (status, body) = app
        .post(Some(&token), json!({ "query": "query($b: ID!) { learner(id: $b) { id } }", "variables": { "b": b_id } }))
        .await;
    assert_eq!(status, 200, "{body}");
    let rows = access_log_rows(&app, &b_id).await;
    assert_eq!(rows[0]["actor"], json!("bob"));
}

async fn erasure_keeps_only_a_hashed_record(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("erase-me").await;
    seed_every_table(&app, &learner).await;
    assert!(app.count_rows("access_log", Some(uuid_of(&learner))).await > 0);
    let del = "mutation($l: ID!) { deleteLearner(input: { id: $l }) { deletedLearnerId } }";
    let r = app.exec_as(staff(), del, json!({ "l": learner })).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(app.count_rows("access_log", Some(uuid_of(&learner))).await, 0, "the learner's log went with it");
    let records = app
        .ok("{ erasureRecords(externalId: \"erase-me\") { actor role action operationName fields } }", json!({}))
        .await;
    assert_eq!(
        records["erasureRecords"],
        json!([{ "actor": "alice", "role": "staff", "action": "ERASE", "operationName": "deleteLearner", "fields": [] }])
    );
    let none = app.ok("{ erasureRecords(externalId: \"someone-else\") { actor } }", json!({})).await;
    assert_eq!(none["erasureRecords"], json!([]));
    // The record does not hold the externalId itself, anywhere.
    let dump = format!("{:?}", raw_access_log(&app).await);
    assert!(!dump.contains("erase-me"), "{dump}");
    assert!(dump.contains(&learngraph::store::audit::subject_hash("erase-me")));
}

async fn raw_access_log(app: &TestApp) -> Vec<entity::access_log::Model> {
    use sea_orm::EntityTrait;
    entity::access_log::Entity::find().all(&app.state.db).await.expect("access log")
}

fn day(n: i64) -> DateTime<Utc> {
    "2026-01-01T10:00:00Z".parse::<DateTime<Utc>>().expect("time") + TimeDelta::days(n)
}

/// Every table's row count, for "nothing changed".
async fn all_counts(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for t in learngraph::store::registry::LEARNER_TABLES {
        out.insert(t.name, app.count_rows(t.name, None).await);
    }
    out.insert("learners", app.count_rows("learners", None).await);
    out
}

fn policy() -> Policy {
    Policy {
        inactive_learner_days: Some(60),
        event_days: Some(30),
        chat_message_days: Some(30),
        conversation_state_days: Some(30),
        practice_days: Some(30),
        activity_days: None,
        batch: 2,
    }
}

async fn record(app: &TestApp, learner: &str, session: Option<&Value>, exercise: &str, correct: bool) {
    let q = "mutation($l: ID!, $s: ID, $e: String!, $c: Boolean!) { recordAttempt(input: { learnerId: $l, sessionId: $s, exerciseId: $e, isCorrect: $c }) { attempt { id } } }";
    app.ok(q, json!({ "l": learner, "s": session, "e": exercise, "c": correct })).await;
}

async fn retention_dry_run_counts_exactly_and_the_run_deletes_exactly_that(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::fixed(day(0)), |_| {}).await;
    let keep = app.learner("keeper").await;
    let gone = app.learner("gone").await;
    crate::fixtures::event(&app, &gone, "opened", None).await;
    // Day 0 and 1: old practice in an old session, an old event, chat and conversation state.
    let old_session = crate::fixtures::start_session(&app, &keep, "PRACTICE").await;
    record(&app, &keep, Some(&old_session), "e1", true).await;
    record(&app, &keep, None, "e2", true).await;
    crate::fixtures::event(&app, &keep, "old", None).await;
    app.ok(
        "mutation($l: ID!) { postChatMessages(input: { learnerId: $l, messages: [{ role: USER, content: \"old\" }, { role: ASSISTANT, content: \"reply\" }] }) { session { id } } }",
        json!({ "l": keep }),
    )
    .await;
    app.ok("mutation($l: ID!) { saveConversationState(input: { learnerId: $l, state: { step: 1 } }) { conversationState { version } } }", json!({ "l": keep }))
        .await;
    app.clock.set(day(1));
    record(&app, &keep, None, "e1", false).await;
    // Day 80 stays; day 90 goes with its old session, though newer: e9's newest attempt goes while
    // an older one stays.
    app.clock.set(day(80));
    record(&app, &keep, None, "e9", true).await;
    app.clock.set(day(90));
    record(&app, &keep, Some(&old_session), "e9", true).await;
    // Days 100 and 101: what stays.
    app.clock.set(day(100));
    let new_session = crate::fixtures::start_session(&app, &keep, "PRACTICE").await;
    record(&app, &keep, Some(&new_session), "e1", true).await;
    crate::fixtures::event(&app, &keep, "new", None).await;
    app.clock.set(day(101));
    record(&app, &keep, Some(&new_session), "e3", false).await;

    let before = all_counts(&app).await;
    let now = app.clock.now();
    let dry = retention::sweep(&app.state.db, &app.state.write_gate, &policy(), now, true).await.expect("dry run");
    assert_eq!(all_counts(&app).await, before, "a dry run changes nothing");
    let line = |r: &retention::Report, rule: &str, table: &str| {
        r.lines.iter().find(|l| l.rule == rule && l.table == table).map(|l| (l.rows, l.learners))
    };
    assert_eq!(line(&dry, "inactive learners", "learners"), Some((1, 1)));
    assert_eq!(line(&dry, "inactive learners", "events"), Some((1, 1)));
    assert_eq!(line(&dry, "inactive learners", "activities"), Some((1, 1)), "the event's activity");
    assert_eq!(line(&dry, "practice", "attempts"), Some((4, 1)));
    assert_eq!(line(&dry, "practice", "sessions"), Some((1, 1)));
    assert_eq!(line(&dry, "events", "events"), Some((1, 1)));
    assert_eq!(line(&dry, "chat messages", "chat_messages"), Some((2, 1)));
    assert_eq!(line(&dry, "chat messages", "chat_posts"), Some((1, 1)));
    assert_eq!(line(&dry, "conversation states", "conversation_states"), Some((1, 1)));
    let printed = dry.to_string();
    assert!(printed.contains("would delete 14 rows (dry run: nothing changed)"), "{printed}");

    let run = retention::sweep(&app.state.db, &app.state.write_gate, &policy(), now, false).await.expect("run");
    assert_eq!(run.lines, dry.lines, "the run deletes exactly what the dry run counted");
    let after = all_counts(&app).await;
    for (table, n) in &before {
        let deleted: u64 = run.lines.iter().filter(|l| l.table == *table).map(|l| l.rows).sum();
        let expected = n - deleted as i64 + i64::from(*table == "access_log"); // + the erasure record
        if !["practice_days", "exercise_stats", "learner_progress"].contains(table) {
            assert_eq!(after[table], expected, "`{table}` lost exactly the reported rows");
        }
    }

    // What remains is consistent: the three recent attempts, as if they were the only ones.
    let view = app
        .ok(
            "query($l: ID!) { learner(id: $l) { streak { current longest lastPracticeDate } \
             progress { totalAttempts correctAttempts byDay(last: 120) { date attempts correct } byExercise { exerciseId attempts correct lastAttemptAt } } \
             sessions(first: 10) { nodes { kind totalExercises correctAnswers } } events { nodes { kind } } \
             conversationStates { sessionKey } } }",
            json!({ "l": keep }),
        )
        .await;
    let l = &view["learner"];
    assert_eq!(l["streak"], json!({ "current": 2, "longest": 2, "lastPracticeDate": "2026-04-12" }));
    assert_eq!(l["progress"]["totalAttempts"], json!(3));
    assert_eq!(l["progress"]["correctAttempts"], json!(2));
    let practiced: Vec<&Value> =
        l["progress"]["byDay"].as_array().expect("byDay").iter().filter(|d| d["attempts"] != json!(0)).collect();
    assert_eq!(
        practiced,
        vec![
            &json!({ "date": "2026-03-22", "attempts": 1, "correct": 1 }),
            &json!({ "date": "2026-04-11", "attempts": 1, "correct": 1 }),
            &json!({ "date": "2026-04-12", "attempts": 1, "correct": 0 })
        ]
    );
    let mut by_exercise = l["progress"]["byExercise"].as_array().expect("byExercise").clone();
    by_exercise.sort_by_key(|e| e["exerciseId"].to_string());
    assert_eq!(
        by_exercise,
        vec![
            json!({ "exerciseId": "e1", "attempts": 1, "correct": 1, "lastAttemptAt": day(100).to_rfc3339() }),
            json!({ "exerciseId": "e3", "attempts": 1, "correct": 0, "lastAttemptAt": day(101).to_rfc3339() }),
            json!({ "exerciseId": "e9", "attempts": 1, "correct": 1, "lastAttemptAt": day(80).to_rfc3339() }),
        ]
    );
    let practice: Vec<&Value> =
        l["sessions"]["nodes"].as_array().expect("sessions").iter().filter(|s| s["kind"] == "PRACTICE").collect();
    assert_eq!(practice, vec![&json!({ "kind": "PRACTICE", "totalExercises": 2, "correctAnswers": 1 })]);
    assert_eq!(l["events"]["nodes"], json!([{ "kind": "new" }]));
    assert_eq!(l["conversationStates"], json!([]));
    let erased = app.ok("{ erasureRecords(externalId: \"gone\") { actor role action } }", json!({})).await;
    assert_eq!(erased["erasureRecords"], json!([{ "actor": "retention", "role": "system", "action": "ERASE" }]));

    // A second run finds nothing.
    let again = retention::sweep(&app.state.db, &app.state.write_gate, &policy(), now, false).await.expect("again");
    assert_eq!(again.rows(), 0, "{again}");
}

/// The server's own sweep, every second, while clients keep recording attempts for the same
/// learners: no client sees an error, the old attempts go, and every learner's totals match the
/// attempts that remain.
async fn scheduled_retention_runs_beside_live_writes(b: Backend) {
    let app = TestApp::spawn_with(b, Clock::System, |c| {
        c.practice_retention_days = Some(30);
        c.retention_batch_rows = 3;
    })
    .await;
    let old = (Utc::now() - TimeDelta::days(90)).to_rfc3339();
    let mut learners = Vec::new();
    for i in 0..4 {
        let l = app.learner(&format!("sweep-{i}")).await;
        for _ in 0..10 {
            app.ok(
                "mutation($l: ID!, $t: DateTime!) { recordAttempt(input: { learnerId: $l, exerciseId: \"old\", isCorrect: true, occurredAt: $t }) { attempt { id } } }",
                json!({ "l": l, "t": old }),
            )
            .await;
        }
        learners.push(l);
    }
    assert_eq!(app.count_rows("attempts", None).await, 40);
    // The sweep a replica schedules (what `Server::run` spawns), started once the data is in: a
    // loaded machine may take longer than one interval to seed.
    let sweeper = tokio::spawn(learngraph::cli::sweep_every(app.replica_state().await, 1));
    let old_left = || async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entity::attempt::Entity::find()
            .filter(entity::attempt::Column::ExerciseId.eq("old"))
            .count(&app.state.db)
            .await
            .expect("count")
    };
    let token = app.token("writer", Role::Service);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        for l in &learners {
            let body = json!({ "query": "mutation($l: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"live\", isCorrect: true }) { attempt { id } } }", "variables": { "l": l } });
            let (status, response) = app.post(Some(&token), body).await;
            assert_eq!(status, 200);
            assert!(response.get("errors").is_none(), "a write beside the sweep failed: {response}");
        }
        if old_left().await == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the scheduled sweep did not run within 20 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    sweeper.abort();
    for l in &learners {
        let stored = app.count_rows("attempts", Some(uuid_of(l))).await;
        let data = app
            .ok(
                "query($l: ID!) { learner(id: $l) { progress { totalAttempts byExercise { exerciseId attempts } } } }",
                json!({ "l": l }),
            )
            .await;
        assert_eq!(data["learner"]["progress"]["totalAttempts"], json!(stored), "totals match what remains");
        assert_eq!(
            data["learner"]["progress"]["byExercise"],
            json!([{ "exerciseId": "live", "attempts": stored }]),
            "the old exercise's statistics went with its attempts"
        );
    }
}

/// `learngraph export` writes the document `exportLearner` returns and records itself in the
/// access log; `learngraph retention` reports per rule and table, or says it is off.
async fn the_commands_export_and_sweep_the_same_database(b: Backend) {
    let app = TestApp::spawn(b).await;
    let learner = app.learner("cli-export").await;
    seed_every_table(&app, &learner).await;
    let mut expected = app.ok(EXPORT, json!({ "l": learner })).await["exportLearner"].clone();
    let file = std::env::temp_dir().join(format!("learngraph-export-{}.json", uuid::Uuid::new_v4().simple()));
    let out = crate::cli::bin()
        .args(["export", "--learner", "cli-export", "--out"])
        .arg(&file)
        .args(["--database-url", app.database_url()])
        .output()
        .expect("run export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported"), "a summary line");
    let mut written: Value = serde_json::from_slice(&std::fs::read(&file).expect("export file")).expect("json");
    std::fs::remove_file(&file).ok();
    written["exportedAt"] = Value::Null;
    expected["exportedAt"] = Value::Null;
    assert_eq!(written, expected, "the command writes what the API returns");
    let logged = access_log_rows(&app, &learner).await;
    assert_eq!(logged[0]["actor"], json!("cli"));
    assert_eq!(logged[0]["operationName"], json!("learngraph export"));

    let missing = crate::cli::bin()
        .args(["export", "--learner", "nobody", "--database-url", app.database_url()])
        .output()
        .expect("run export");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no learner"));
    if std::path::Path::new("/dev/full").exists() {
        let full = crate::cli::bin()
            .args(["export", "--learner", "cli-export", "--out", "/dev/full", "--database-url", app.database_url()])
            .output()
            .expect("run export");
        assert!(!full.status.success());
        let stderr = String::from_utf8_lossy(&full.stderr);
        assert!(stderr.contains("writing the export failed: No space left"), "the output's own error: {stderr}");
    }

    let off =
        crate::cli::bin().args(["retention", "--dry-run", "--database-url", app.database_url()]).output().expect("run");
    assert!(off.status.success());
    assert!(String::from_utf8_lossy(&off.stdout).contains("retention is off"));
    let dry = crate::cli::bin()
        .args(["retention", "--dry-run", "--practice-retention-days", "0", "--database-url", app.database_url()])
        .output()
        .expect("run");
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let report = String::from_utf8_lossy(&dry.stdout);
    assert!(report.contains("practice") && report.contains("attempts"), "{report}");
    assert!(report.contains("(dry run: nothing changed)"), "{report}");
    assert!(app.count_rows("attempts", Some(uuid_of(&learner))).await > 0);
}
