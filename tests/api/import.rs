//! `learngraph import`: each source imports to the values expected (read back through GraphQL),
//! a second run imports nothing new, `--dry-run` writes nothing, a malformed row is skipped and
//! reported while `--strict` changes nothing, and `7` and `user_7` end up as one learner. The
//! fixtures are written by the tests in each source's format.

use std::path::{Path, PathBuf};

use learngraph::import::sources::Source;
use learngraph::import::{Counts, Options, Report, Streak, run};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, postgres_url};

crate::on_each_backend!(
    progress_json_imports_once_as_one_learner_per_person,
    dry_run_writes_nothing_and_strict_changes_nothing,
    progress_db_imports_attempts_sessions_and_reports_streaks,
    profile_store_imports_goal_profiles_and_events,
    dala_imports_details_objectives_badges_and_activity_attempts,
);

const OPTIONS: Options = Options { dry_run: false, strict: false, merge_prefixed_ids: true };

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("learngraph-import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, value: &Value) {
        std::fs::write(self.0.join(name), value.to_string()).expect("write");
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A progress-json directory: learner 7's attempts in two files (`7` and `user_7`), learner 8's
/// with one malformed row and one extra field, and stored streaks (7's disagrees).
fn progress_json_fixture() -> TempDir {
    let dir = TempDir::new();
    dir.write(
        "attempts_7.json",
        &json!([
            { "exercise_id": "add-1", "is_correct": true, "user_answer": "2", "created_at": "2024-03-01T10:00:00+00:00" },
            { "exercise_id": "add-2", "is_correct": false, "user_answer": "5", "created_at": "2024-03-02 10:00:00" },
            { "exercise_id": "add-2", "is_correct": false, "user_answer": "5", "created_at": "2024-03-02 10:00:00" },
        ]),
    );
    dir.write(
        "attempts_user_7.json",
        &json!([{ "exercise_id": "add-3", "is_correct": true, "timestamp": "2024-03-03T09:00:00+00:00", "session_id": "s-1" }]),
    );
    dir.write(
        "attempts_8.json",
        &json!([
            { "exercise_id": "sub-1", "is_correct": true, "created_at": "2024-03-05T08:00:00+00:00", "hint_used": true },
            { "exercise_id": "sub-2", "is_correct": "yes", "created_at": "2024-03-05T08:05:00+00:00" },
        ]),
    );
    dir.write(
        "streaks.json",
        &json!({
            "user_7": { "current_streak": 5, "longest_streak": 5, "last_practice_date": "2024-03-03" },
            "8": { "current_streak": 1, "longest_streak": 1, "last_practice_date": "2024-03-05" },
        }),
    );
    dir
}

fn counts(report: &Report, table: &str) -> Counts {
    report.tables.get(table).copied().unwrap_or_default()
}

const LEARNER: &str = "query($e: String!) { learner(externalId: $e) { externalId \
    streak { longest lastPracticeDate } progress { totalAttempts correctAttempts } \
    attempts(first: 20) { edges { node { exerciseId isCorrect userAnswer details occurredAt session { id startedAt endedAt } } } } \
    sessions(first: 10) { edges { node { startedAt endedAt } } } } }";

async fn progress_json_imports_once_as_one_learner_per_person(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = progress_json_fixture();
    let report = run(&app.state, Source::ProgressJson, dir.path(), OPTIONS).await.expect("import");
    assert_eq!(
        counts(&report, "attempts_*.json"),
        Counts { read: 6, imported: 5, present: 0, skipped: 1 },
        "{report:#?}"
    );
    assert_eq!(report.problems, vec!["attempts_8.json item 1: is_correct \"yes\" is not a boolean".to_owned()]);
    assert_eq!(report.learners_created, 2, "7 and user_7 are one learner");
    assert_eq!(
        report.streak_mismatches.iter().map(|m| (m.learner.as_str(), m.stored, m.recomputed)).collect::<Vec<_>>(),
        vec![(
            "7",
            Streak { current: 5, longest: 5, last: "2024-03-03".parse().ok() },
            Streak { current: 3, longest: 3, last: "2024-03-03".parse().ok() }
        )],
        "the stored streak is reported, the recomputed one kept"
    );
    let seven = app.ok(LEARNER, json!({ "e": "7" })).await;
    let seven = &seven["learner"];
    assert_eq!(seven["progress"], json!({ "totalAttempts": 4, "correctAttempts": 2 }));
    assert_eq!(seven["streak"], json!({ "longest": 3, "lastPracticeDate": "2024-03-03" }));
    let attempts: Vec<&Value> =
        seven["attempts"]["edges"].as_array().expect("edges").iter().map(|e| &e["node"]).collect();
    assert_eq!(attempts[0]["exerciseId"], "add-3", "newest first");
    assert_eq!(attempts[0]["details"], json!({ "session_id": "s-1" }), "extras are kept in details");
    assert_eq!(attempts[3]["userAnswer"], "2");
    assert_eq!(attempts[3]["occurredAt"], "2024-03-01T10:00:00+00:00");
    assert!(app.ok(LEARNER, json!({ "e": "user_7" })).await["learner"].is_null(), "no second learner for user_7");
    let eight = app.ok(LEARNER, json!({ "e": "8" })).await;
    assert_eq!(eight["learner"]["attempts"]["edges"][0]["node"]["details"], json!({ "hint_used": true }));
    assert!(report.streak_mismatches.iter().all(|m| m.learner != "8"), "8's stored streak agrees with its attempts");

    // Again: nothing new, and it says so.
    let again = run(&app.state, Source::ProgressJson, dir.path(), OPTIONS).await.expect("import again");
    assert_eq!(counts(&again, "attempts_*.json"), Counts { read: 6, imported: 0, present: 5, skipped: 1 });
    assert_eq!((again.learners_created, again.learners_present), (0, 2));
    assert_eq!(app.count_rows("attempts", None).await, 5);

    // Kept apart on request.
    let apart = TestApp::spawn(b).await;
    let options = Options { merge_prefixed_ids: false, ..OPTIONS };
    let report = run(&apart.state, Source::ProgressJson, dir.path(), options).await.expect("import");
    assert_eq!(report.learners_created, 3);
    assert_eq!(apart.ok(LEARNER, json!({ "e": "user_7" })).await["learner"]["progress"]["totalAttempts"], 1);
}

async fn dry_run_writes_nothing_and_strict_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = progress_json_fixture();
    let dry = Options { dry_run: true, ..OPTIONS };
    let report = run(&app.state, Source::ProgressJson, dir.path(), dry).await.expect("dry run");
    assert!(report.dry_run);
    assert_eq!(counts(&report, "attempts_*.json"), Counts { read: 6, imported: 5, present: 0, skipped: 1 });
    assert_eq!(report.learners_created, 2, "reported as it would be");
    assert_eq!(app.count_rows("learners", None).await, 0, "nothing written");
    assert_eq!(app.count_rows("attempts", None).await, 0);

    let strict = Options { strict: true, ..OPTIONS };
    let error = run(&app.state, Source::ProgressJson, dir.path(), strict).await.expect_err("a malformed row stops it");
    assert!(error.to_string().contains("attempts_8.json item 1"), "{error}");
    assert_eq!(app.count_rows("learners", None).await, 0, "strict changed nothing");

    // A row only the store refuses (an exercise id too long) is caught by strict's dry pass.
    let refused = TempDir::new();
    refused.write(
        "attempts_1.json",
        &json!([{ "exercise_id": "ok", "is_correct": true, "created_at": "2024-03-01T10:00:00+00:00" }]),
    );
    refused.write(
        "attempts_2.json",
        &json!([{ "exercise_id": "x".repeat(500), "is_correct": true, "created_at": "2024-03-01T10:00:00+00:00" }]),
    );
    let error = run(&app.state, Source::ProgressJson, refused.path(), strict).await.expect_err("refused row");
    assert!(error.to_string().contains("attempts_2.json item 0"), "{error}");
    assert_eq!(app.count_rows("attempts", None).await, 0, "strict changed nothing");
    // Without strict, the good learner comes in and the bad row is skipped.
    let report = run(&app.state, Source::ProgressJson, refused.path(), OPTIONS).await.expect("import");
    assert_eq!(counts(&report, "attempts_*.json"), Counts { read: 2, imported: 1, present: 0, skipped: 1 });
    assert!(report.incomplete());
}

/// The progress tables as SQLAlchemy made them, in a SQLite file (destination SQLite) or in a
/// scratch PostgreSQL database (destination PostgreSQL), so both source engines are read.
async fn progress_tables(b: Backend, dir: &TempDir) -> (String, Option<(String, String)>) {
    let (url, scratch) = match b {
        Backend::Sqlite => (format!("sqlite://{}/progress.db?mode=rwc", dir.path()), None),
        Backend::Postgres => {
            let admin = postgres_url().expect("postgres");
            let name = format!("lg_test_src_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(&admin).await.expect("connect");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create");
            conn.close().await.ok();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("url");
            (format!("{base}/{name}"), Some((admin, name)))
        }
    };
    let db = Database::connect(&url).await.expect("connect source");
    for sql in [
        "CREATE TABLE attempts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, exercise_id VARCHAR(100), is_correct BOOLEAN, user_answer TEXT, created_at TIMESTAMP)",
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, started_at TIMESTAMP, ended_at TIMESTAMP, total_exercises INTEGER, correct_answers INTEGER)",
        "CREATE TABLE user_profiles (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, current_streak INTEGER, longest_streak INTEGER, last_practice_date DATE)",
        "INSERT INTO attempts VALUES (1, 7, 'mul-1', TRUE, '12', '2024-03-01 10:00:00'), (2, 7, 'mul-2', FALSE, '13', '2024-03-02 10:00:00.250000'), \
         (3, 7, 'mul-2', TRUE, '14', '2024-03-02 10:01:00'), (4, 9, 'div-1', TRUE, NULL, '2024-02-01 09:00:00'), (5, 9, 'div-2', NULL, '1', '2024-02-01 09:01:00')",
        "INSERT INTO sessions VALUES (1, 7, '2024-03-02 09:55:00', '2024-03-02 10:05:00', 2, 1)",
        "INSERT INTO user_profiles VALUES (1, 7, 2, 2, '2024-03-02'), (2, 9, 4, 9, '2024-02-01')",
    ] {
        db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db.close().await.ok();
    (url, scratch)
}

async fn drop_scratch(scratch: Option<(String, String)>) {
    if let Some((admin, name)) = scratch {
        let conn = Database::connect(&admin).await.expect("connect");
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
        conn.close().await.ok();
    }
}

async fn progress_db_imports_attempts_sessions_and_reports_streaks(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = TempDir::new();
    let (url, scratch) = progress_tables(b, &dir).await;
    let report = run(&app.state, Source::ProgressDb, &url, OPTIONS).await.expect("import");
    assert_eq!(counts(&report, "attempts"), Counts { read: 5, imported: 4, present: 0, skipped: 1 }, "{report:#?}");
    assert_eq!(report.problems, vec!["attempts id 5: is_correct \"NULL\" is not a boolean".to_owned()]);
    assert_eq!(counts(&report, "sessions"), Counts { read: 1, imported: 1, present: 0, skipped: 0 });
    assert_eq!(counts(&report, "user_profiles"), Counts { read: 2, imported: 2, present: 0, skipped: 0 });
    let mismatched: Vec<&str> = report.streak_mismatches.iter().map(|m| m.learner.as_str()).collect();
    assert_eq!(mismatched, vec!["9"], "7's stored streak agrees; 9's (longest 9) does not");
    let seven = app.ok(LEARNER, json!({ "e": "7" })).await;
    let seven = &seven["learner"];
    assert_eq!(seven["progress"], json!({ "totalAttempts": 3, "correctAttempts": 2 }));
    assert_eq!(seven["streak"], json!({ "longest": 2, "lastPracticeDate": "2024-03-02" }));
    assert_eq!(
        seven["sessions"]["edges"][0]["node"],
        json!({ "startedAt": "2024-03-02T09:55:00+00:00", "endedAt": "2024-03-02T10:05:00+00:00" })
    );
    let second = &seven["attempts"]["edges"][1]["node"];
    assert_eq!(
        (second["exerciseId"].as_str(), second["occurredAt"].as_str()),
        (Some("mul-2"), Some("2024-03-02T10:00:00.250+00:00"))
    );

    let again = run(&app.state, Source::ProgressDb, &url, OPTIONS).await.expect("again");
    assert_eq!(counts(&again, "attempts"), Counts { read: 5, imported: 0, present: 4, skipped: 1 });
    assert_eq!(counts(&again, "sessions"), Counts { read: 1, imported: 0, present: 1, skipped: 0 });
    assert_eq!(app.count_rows("attempts", None).await, 4);
    assert_eq!(app.count_rows("sessions", None).await, 1);
    drop_scratch(scratch).await;
}

async fn profile_store_imports_goal_profiles_and_events(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = TempDir::new();
    dir.write(
        "profiles.json",
        &json!({
            "TestUser:0": { "level": "beginner", "summary": "likes puzzles" },
            "TestUser:1": { "level": "advanced" },
            "no-goal-here": { "x": 1 },
        }),
    );
    dir.write(
        "events.json",
        &json!({
            "TestUser": [
                { "event_type": "quiz_completed", "goal_id": 0, "timestamp": "2024-03-01T10:00:00+00:00", "score": 3 },
                { "type": "login", "timestamp": 1709290800 },
                "not an event",
                { "event_type": "note", "goal_id": 4, "timestamp": "2024-03-02T10:00:00+00:00" },
            ],
        }),
    );
    let report = run(&app.state, Source::ProfileStore, dir.path(), OPTIONS).await.expect("import");
    assert_eq!(
        counts(&report, "profiles.json"),
        Counts { read: 3, imported: 2, present: 0, skipped: 1 },
        "{report:#?}"
    );
    assert_eq!(counts(&report, "events.json"), Counts { read: 4, imported: 3, present: 0, skipped: 1 }, "{report:#?}");
    assert_eq!(counts(&report, "events.json (goals)").imported, 1, "the goal only an event names is created");
    assert!(report.problems.iter().any(|p| p.contains("profiles.json key \"no-goal-here\"")), "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains("events.json key \"TestUser\" item 2")), "{:?}", report.problems);
    let query = "query { learner(externalId: \"TestUser\") { \
        g0: goal(externalId: \"0\") { profile profileVersion } g1: goal(externalId: \"1\") { profile profileVersion } \
        g4: goal(externalId: \"4\") { profileVersion } \
        events(first: 10) { edges { node { kind occurredAt payload goal { externalId } } } } } }";
    let data = app.ok(query, json!({})).await;
    let learner = &data["learner"];
    assert_eq!(
        learner["g0"],
        json!({ "profile": { "level": "beginner", "summary": "likes puzzles" }, "profileVersion": 1 })
    );
    assert_eq!(learner["g1"]["profileVersion"], 1);
    assert_eq!(learner["g4"]["profileVersion"], 0, "a goal known only from an event has no profile");
    let events: Vec<&Value> =
        learner["events"]["edges"].as_array().expect("edges").iter().map(|e| &e["node"]).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["note", "login", "quiz_completed"], "newest first, by when they happened");
    assert_eq!(events[1]["occurredAt"], "2024-03-01T11:00:00+00:00", "epoch seconds");
    assert_eq!(events[2]["payload"]["score"], 3, "the whole event is kept as the payload");
    assert_eq!(events[2]["goal"]["externalId"], "0");

    let again = run(&app.state, Source::ProfileStore, dir.path(), OPTIONS).await.expect("again");
    assert_eq!(counts(&again, "profiles.json"), Counts { read: 3, imported: 0, present: 2, skipped: 1 });
    assert_eq!(counts(&again, "events.json"), Counts { read: 4, imported: 0, present: 3, skipped: 1 });
    // A profile that changed in the store becomes the goal's next version.
    dir.write("profiles.json", &json!({ "TestUser:0": { "level": "intermediate" } }));
    let changed = run(&app.state, Source::ProfileStore, dir.path(), OPTIONS).await.expect("changed");
    assert_eq!(counts(&changed, "profiles.json").imported, 1);
    let data = app.ok(query, json!({})).await;
    assert_eq!(data["learner"]["g0"], json!({ "profile": { "level": "intermediate" }, "profileVersion": 2 }));
}

/// The command: its report, and its exit code saying that rows were skipped.
#[tokio::test]
async fn the_import_command_reports_and_exits_2_when_rows_were_skipped() {
    let dir = progress_json_fixture();
    let db = TempDir::new();
    let url = format!("sqlite://{}/db.sqlite?mode=rwc", db.path());
    let run = |extra: &[&str]| {
        crate::cli::bin()
            .args(["import", "progress-json", dir.path(), "--database-url", &url])
            .args(extra)
            .output()
            .expect("run import")
    };
    let out = run(&["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("dry run: nothing was written"), "{stdout}");
    assert!(stdout.contains("attempts_8.json item 1: is_correct"), "{stdout}");
    let out = run(&["--strict"]);
    assert_eq!(out.status.code(), Some(1), "strict fails");
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("import progress") && stderr.contains("learners=2 of=2"),
        "plain progress lines off a terminal: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("attempts_*.json")).expect("a line per file kind");
    assert_eq!(line.split_whitespace().skip(1).collect::<Vec<_>>(), vec!["6", "5", "0", "1"], "{stdout}");
    assert!(stdout.contains("current 5 -> 3"), "the stored streak that disagrees: {stdout}");
    let _ = Path::new(db.path());
}

/// What a database holds after an import, in figures that any half-written learner would change.
async fn fingerprint(url: &str) -> Vec<i64> {
    let db = Database::connect(url).await.expect("connect");
    let mut out = vec![];
    for sql in [
        "SELECT COUNT(*) AS n FROM learners",
        "SELECT COUNT(*) AS n FROM attempts",
        "SELECT COUNT(*) AS n FROM practice_days",
        "SELECT COUNT(*) AS n FROM exercise_stats",
        "SELECT COALESCE(SUM(total_attempts), 0) AS n FROM learner_progress",
        "SELECT COALESCE(SUM(correct_attempts), 0) AS n FROM learner_progress",
        "SELECT COALESCE(SUM(longest_streak), 0) AS n FROM learner_progress",
    ] {
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect(sql);
        out.push(row.expect("row").try_get::<i64>("", "n").expect("n"));
    }
    db.close().await.ok();
    out
}

/// An import killed half way and run again ends in the same state as one clean run.
#[tokio::test]
async fn an_interrupted_import_rerun_ends_as_one_clean_run() {
    const LEARNERS: usize = 300;
    let dir = TempDir::new();
    for l in 0..LEARNERS {
        let attempts: Vec<Value> = (0..4)
            .map(|i| json!({ "exercise_id": format!("ex-{}", i % 4), "is_correct": (l + i) % 3 != 0, "created_at": format!("2024-03-{:02}T10:00:00Z", 1 + (l + i) % 9) }))
            .collect();
        dir.write(&format!("attempts_{l}.json"), &Value::Array(attempts));
    }
    let dbs = TempDir::new();
    let url = |name: &str| format!("sqlite://{}/{name}.sqlite?mode=rwc", dbs.path());
    let import = |url: &str| {
        let mut command = crate::cli::bin();
        command.args(["import", "progress-json", dir.path(), "--database-url", url]);
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        command
    };
    let clean = import(&url("clean")).status().expect("clean run");
    assert!(clean.success());

    let interrupted = url("interrupted");
    let mut child = import(&interrupted).spawn().expect("spawn");
    // Kill it once some learners are in, well before all are.
    let mut imported_at_kill = 0;
    for _ in 0..2_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if let Ok(db) = Database::connect(&interrupted).await {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM learners",
                ))
                .await;
            db.close().await.ok();
            if let Ok(Some(row)) = row {
                imported_at_kill = row.try_get::<i64>("", "n").unwrap_or(0);
                if imported_at_kill >= 10 {
                    break;
                }
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().ok();
    let partial = fingerprint(&interrupted).await;
    assert!(partial[0] > 0 && partial[0] < LEARNERS as i64, "killed half way: {partial:?} ({imported_at_kill} seen)");
    assert_eq!(partial[1], partial[0] * 4, "no learner is half-imported: {partial:?}");
    assert!(import(&interrupted).status().expect("rerun").success());
    assert_eq!(fingerprint(&interrupted).await, fingerprint(&url("clean")).await, "the same as one clean run");
}

/// The learner-profile prototype's file, with its schema.
async fn dala_fixture(dir: &TempDir) -> String {
    let path = format!("{}/edpsych_connect_dala.db", dir.path());
    let db = Database::connect(format!("sqlite://{path}?mode=rwc")).await.expect("create");
    for sql in [
        "CREATE TABLE learner_profiles (id TEXT PRIMARY KEY, created_at TIMESTAMP, last_updated_at TIMESTAMP)",
        "CREATE TABLE preferences (id INTEGER PRIMARY KEY, learner_id TEXT, category TEXT, value TEXT, timestamp TIMESTAMP, UNIQUE (learner_id, category))",
        "CREATE TABLE interests (id INTEGER PRIMARY KEY, learner_id TEXT, interest_name TEXT, timestamp TIMESTAMP, UNIQUE (learner_id, interest_name))",
        "CREATE TABLE struggles (id INTEGER PRIMARY KEY, learner_id TEXT, struggle_description TEXT, timestamp TIMESTAMP, UNIQUE (learner_id, struggle_description))",
        "CREATE TABLE cognitive_metrics (id INTEGER PRIMARY KEY, learner_id TEXT, task_name TEXT, metric_details JSON, timestamp TIMESTAMP, UNIQUE (learner_id, task_name))",
        "CREATE TABLE learning_objective_progress (id INTEGER PRIMARY KEY, learner_id TEXT, lo_id TEXT, status TEXT, started_at TIMESTAMP, completed_at TIMESTAMP, score REAL, details JSON, UNIQUE (learner_id, lo_id))",
        "CREATE TABLE badges (id INTEGER PRIMARY KEY, learner_id TEXT, badge_id TEXT, badge_name TEXT, earned_date DATE, details TEXT, UNIQUE (learner_id, badge_id))",
        "CREATE TABLE activity_attempts (id INTEGER PRIMARY KEY, learner_id TEXT, lo_id TEXT, activity_id TEXT, activity_type TEXT, attempt_timestamp TIMESTAMP, score REAL, completed BOOLEAN, attempt_details JSON)",
        "INSERT INTO learner_profiles VALUES ('L1', '2024-01-01 09:00:00', '2024-01-05 09:00:00'), ('L2', '2024-01-02 09:00:00', NULL)",
        "INSERT INTO preferences VALUES (1, 'L1', 'learning_style', 'visual', '2024-01-01 09:00:00')",
        "INSERT INTO interests VALUES (1, 'L1', 'dinosaurs', '2024-01-01 09:00:00'), (2, 'L1', 'space', '2024-01-01 09:00:00')",
        "INSERT INTO struggles VALUES (1, 'L1', 'long division', '2024-01-01 09:00:00')",
        "INSERT INTO cognitive_metrics VALUES (1, 'L1', 'memory_span', '{\"accuracy\": 0.8, \"attempts\": 1}', '2024-01-01 09:00:00')",
        "INSERT INTO learning_objective_progress VALUES (1, 'L1', 'LO-1', 'completed', '2024-01-02 09:00:00', '2024-01-03 10:00:00', 0.9, '{\"tries\": 2}'), \
         (2, 'L1', 'LO-2', 'mastered', NULL, NULL, NULL, NULL)",
        "INSERT INTO badges VALUES (1, 'L1', 'first-quiz', 'First quiz', '2024-01-03', 'well done')",
        "INSERT INTO activity_attempts VALUES (1, 'L1', 'LO-1', 'quiz-7', 'quiz', '2024-01-03 10:00:00', 0.9, 1, '{\"answers\": [1, 2]}'), \
         (2, 'L1', 'LO-1', 'game-2', 'game', 'soon', 0.5, 0, NULL)",
    ] {
        db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db.close().await.ok();
    path
}

async fn dala_imports_details_objectives_badges_and_activity_attempts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = TempDir::new();
    let path = dala_fixture(&dir).await;
    let report = run(&app.state, Source::Dala, &path, OPTIONS).await.expect("import");
    assert_eq!(counts(&report, "learner_profiles").imported, 2);
    assert_eq!(counts(&report, "interests"), Counts { read: 2, imported: 2, present: 0, skipped: 0 });
    assert_eq!(counts(&report, "learning_objective_progress"), Counts { read: 2, imported: 1, present: 0, skipped: 1 });
    assert_eq!(
        counts(&report, "activity_attempts"),
        Counts { read: 2, imported: 1, present: 0, skipped: 1 },
        "{report:#?}"
    );
    assert!(
        report.problems.iter().any(|p| p.contains("learning_objective_progress id 2: status \"mastered\"")),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| p.contains("activity_attempts id 2: attempt_timestamp \"soon\"")),
        "{:?}",
        report.problems
    );
    let query = "query { learner(externalId: \"L1\") { preferences { category value } interests struggles \
        cognitiveMetrics { taskName metrics } objectives { objectiveId status score details startedAt completedAt } \
        badges { badgeId name details earnedAt } \
        attempts(first: 5) { edges { node { exerciseId activityType objectiveId score completed isCorrect details occurredAt } } } } }";
    let data = app.ok(query, json!({})).await;
    let l1 = &data["learner"];
    assert_eq!(l1["preferences"], json!([{ "category": "learning_style", "value": "visual" }]));
    assert_eq!(l1["interests"], json!(["dinosaurs", "space"]));
    assert_eq!(l1["struggles"], json!(["long division"]));
    assert_eq!(
        l1["cognitiveMetrics"],
        json!([{ "taskName": "memory_span", "metrics": { "accuracy": 0.8, "attempts": 1 } }])
    );
    assert_eq!(
        l1["objectives"],
        json!([{ "objectiveId": "LO-1", "status": "COMPLETED", "score": 0.9, "details": { "tries": 2 },
                 "startedAt": "2024-01-02T09:00:00+00:00", "completedAt": "2024-01-03T10:00:00+00:00" }]),
        "the source's own times are kept"
    );
    assert_eq!(
        l1["badges"],
        json!([{ "badgeId": "first-quiz", "name": "First quiz", "details": "well done", "earnedAt": "2024-01-03T00:00:00+00:00" }])
    );
    assert_eq!(
        l1["attempts"]["edges"][0]["node"],
        json!({ "exerciseId": "quiz-7", "activityType": "quiz", "objectiveId": "LO-1", "score": 0.9, "completed": true,
                "isCorrect": true, "details": { "answers": [1, 2] }, "occurredAt": "2024-01-03T10:00:00+00:00" })
    );
    assert!(
        !app.ok("{ learner(externalId: \"L2\") { id } }", json!({})).await["learner"].is_null(),
        "a learner with nothing else"
    );

    let again = run(&app.state, Source::Dala, &path, OPTIONS).await.expect("again");
    for table in ["preferences", "interests", "struggles", "cognitive_metrics", "badges", "activity_attempts"] {
        assert_eq!(counts(&again, table).imported, 0, "{table}: {again:#?}");
    }
    assert_eq!(counts(&again, "learning_objective_progress"), Counts { read: 2, imported: 0, present: 1, skipped: 1 });
    assert_eq!(app.count_rows("cognitive_metric_records", None).await, 1, "no second metric record");
}

/// The wellbeing tables as the companion planned them, in a scratch PostgreSQL database: two
/// users (UUIDs), with a malformed row in most tables.
async fn wellbeing_tables() -> (String, (String, String)) {
    let admin = postgres_url().expect("the wellbeing tables live in PostgreSQL");
    let name = format!("lg_test_src_{}", uuid::Uuid::new_v4().simple());
    let conn = Database::connect(&admin).await.expect("connect");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create");
    conn.close().await.ok();
    let url = format!("{}/{name}", admin.rsplit_once('/').map(|(b, _)| b).expect("url"));
    let db = Database::connect(&url).await.expect("connect source");
    for sql in [
        "CREATE TABLE user_profiles (id UUID PRIMARY KEY, display_name TEXT, bio TEXT, preferred_meditation_duration INTEGER, \
         preferred_mentor_category TEXT, theme_preference TEXT)",
        "CREATE TABLE conversation_history (user_id UUID NOT NULL, session_key TEXT NOT NULL, agent_state JSONB, last_agent TEXT, \
         updated_at TIMESTAMPTZ, UNIQUE (user_id, session_key))",
        "CREATE TABLE chat_sessions (id SERIAL PRIMARY KEY, user_id UUID NOT NULL, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ)",
        "CREATE TABLE chat_messages (id SERIAL PRIMARY KEY, session_id INTEGER REFERENCES chat_sessions, role TEXT, content TEXT, \
         agent_persona TEXT, created_at TIMESTAMPTZ)",
        "CREATE TABLE mentor_selections (id SERIAL PRIMARY KEY, user_id UUID NOT NULL, session_id INTEGER REFERENCES chat_sessions, \
         mentor_id TEXT, context_keywords TEXT, created_at TIMESTAMPTZ)",
        "CREATE TABLE journal_entries (id SERIAL PRIMARY KEY, user_id UUID NOT NULL, content TEXT, embedding TEXT, mood_tags TEXT[], \
         created_at TIMESTAMPTZ)",
        "CREATE TABLE journal_followups (id SERIAL PRIMARY KEY, original_entry_id INTEGER REFERENCES journal_entries, \
         follow_up_question TEXT, follow_up_answer TEXT, synthesized_entry_id INTEGER REFERENCES journal_entries)",
        "CREATE TABLE meditation_sessions (id SERIAL PRIMARY KEY, user_id UUID NOT NULL, duration INTEGER, completed BOOLEAN, \
         completed_at TIMESTAMPTZ, created_at TIMESTAMPTZ)",
        "CREATE TABLE meditation_reflections (id SERIAL PRIMARY KEY, session_id INTEGER REFERENCES meditation_sessions, \
         reflection_text TEXT, ai_insight TEXT, emotional_state TEXT)",
        "INSERT INTO user_profiles VALUES ('00000000-0000-0000-0000-0000000000a1', 'Ada', 'Likes tea', 15, 'stoic', 'dark'), \
         ('00000000-0000-0000-0000-0000000000b2', 'Bo', NULL, 900, NULL, NULL)",
        "INSERT INTO conversation_history VALUES \
         ('00000000-0000-0000-0000-0000000000a1', 'default', '{\"step\": 3, \"goal\": \"calm\"}', 'coach', '2024-05-01 10:00:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', 'tutor', '[1, 2]', NULL, '2024-05-02 08:00:00+00')",
        "INSERT INTO chat_sessions (user_id, started_at, ended_at) VALUES \
         ('00000000-0000-0000-0000-0000000000a1', '2024-05-01 09:00:00+00', '2024-05-01 09:30:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', '2024-05-03 18:00:00+00', NULL)",
        "INSERT INTO chat_messages (session_id, role, content, agent_persona, created_at) VALUES \
         (1, 'user', 'I feel stuck', NULL, '2024-05-01 09:01:00+00'), \
         (1, 'assistant', 'Let us breathe first', 'sage', '2024-05-01 09:02:00.5+00'), \
         (1, 'narrator', 'A door opens', NULL, '2024-05-01 09:03:00+00'), \
         (2, 'USER', 'Back again', NULL, '2024-05-03 18:01:00+00')",
        "INSERT INTO mentor_selections (user_id, session_id, mentor_id, context_keywords, created_at) VALUES \
         ('00000000-0000-0000-0000-0000000000a1', 1, 'sage', 'stress,exams', '2024-05-01 09:05:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', NULL, 'coach', NULL, '2024-05-02 09:00:00+00')",
        "INSERT INTO journal_entries (user_id, content, embedding, mood_tags, created_at) VALUES \
         ('00000000-0000-0000-0000-0000000000a1', 'Exams tomorrow', '[0.6, 0.8]', '{anxious,tired}', '2024-05-01 20:00:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', 'One topic at a time', '[1, 0]', '{}', '2024-05-01 20:10:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', 'Bad vector', '[0.1, \"x\"]', NULL, '2024-05-02 20:00:00+00'), \
         ('00000000-0000-0000-0000-0000000000b2', 'Hello journal', NULL, NULL, '2024-05-04 07:00:00+00')",
        "INSERT INTO journal_followups (original_entry_id, follow_up_question, follow_up_answer, synthesized_entry_id) VALUES \
         (1, 'What worries you most?', 'Running out of time', 2), (3, 'Why?', 'Because', NULL)",
        "INSERT INTO meditation_sessions (user_id, duration, completed, completed_at, created_at) VALUES \
         ('00000000-0000-0000-0000-0000000000a1', 10, TRUE, '2024-05-02 07:10:00+00', '2024-05-02 07:00:00+00'), \
         ('00000000-0000-0000-0000-0000000000a1', 5, FALSE, NULL, '2024-05-03 07:00:00+00'), \
         ('00000000-0000-0000-0000-0000000000b2', 20, TRUE, NULL, '2024-05-04 06:00:00+00')",
        "INSERT INTO meditation_reflections (session_id, reflection_text, ai_insight, emotional_state) VALUES \
         (1, 'Calmer now', 'Breath anchors you', 'calm'), (3, 'Sleepy', NULL, NULL)",
    ] {
        db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db.close().await.ok();
    (url, (admin, name))
}

mod wellbeing_db {
    use crate::common::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(learngraph_pg),
        ignore = "the wellbeing tables are read from PostgreSQL: set LEARNGRAPH_TEST_POSTGRES_URL"
    )]
    async fn into_sqlite() {
        super::wellbeing_db_imports_profiles_chat_journal_and_meditation(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
    async fn into_postgres() {
        super::wellbeing_db_imports_profiles_chat_journal_and_meditation(Backend::Postgres).await
    }
}

const WELLBEING: &str = "query($e: String!) { learner(externalId: $e) {
    displayName bio settings { theme preferredMeditationMinutes preferredMentorCategory }
    conversationStates { sessionKey state lastAgent version createdAt updatedAt }
    chatSessions(first: 10) { edges { node { startedAt endedAt
        messages(first: 10) { role content agentPersona position createdAt }
        mentorSelections(first: 5) { mentorId contextKeywords createdAt } } } }
    journalEntries(first: 10) { edges { node { content moodTags source embeddingDimension createdAt
        followUps(first: 5) { question answer createdAt synthesizedEntry { content source } } } } }
    meditationReflections(first: 10) { edges { node { durationMinutes reflection insight emotionalState createdAt
        session { startedAt endedAt } } } }
    sessions(first: 10, kind: MEDITATION) { edges { node { startedAt endedAt } } }
} }";

async fn wellbeing_db_imports_profiles_chat_journal_and_meditation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (url, scratch) = wellbeing_tables().await;
    let refused =
        run(&app.state, Source::WellbeingDb, "sqlite://companion.db", OPTIONS).await.expect_err("not PostgreSQL");
    assert!(refused.to_string().contains("PostgreSQL"), "{refused}");

    let dry = run(&app.state, Source::WellbeingDb, &url, Options { dry_run: true, ..OPTIONS }).await.expect("dry");
    assert_eq!(counts(&dry, "chat_messages"), Counts { read: 4, imported: 3, present: 0, skipped: 1 }, "{dry:#?}");
    assert_eq!(app.count_rows("learners", None).await, 0, "a dry run writes nothing");
    let strict = run(&app.state, Source::WellbeingDb, &url, Options { strict: true, ..OPTIONS }).await;
    assert!(strict.is_err(), "strict stops at the first malformed row");
    assert_eq!(app.count_rows("learners", None).await, 0, "and changes nothing");

    let report = run(&app.state, Source::WellbeingDb, &url, OPTIONS).await.expect("import");
    let expected = [
        ("user_profiles", Counts { read: 2, imported: 1, present: 0, skipped: 1 }),
        ("conversation_history", Counts { read: 2, imported: 2, present: 0, skipped: 0 }),
        ("chat_sessions", Counts { read: 2, imported: 2, present: 0, skipped: 0 }),
        ("chat_messages", Counts { read: 4, imported: 3, present: 0, skipped: 1 }),
        ("mentor_selections", Counts { read: 2, imported: 1, present: 0, skipped: 1 }),
        ("journal_entries", Counts { read: 4, imported: 3, present: 0, skipped: 1 }),
        ("journal_followups", Counts { read: 2, imported: 1, present: 0, skipped: 1 }),
        ("meditation_sessions", Counts { read: 3, imported: 3, present: 0, skipped: 0 }),
        ("meditation_reflections", Counts { read: 2, imported: 2, present: 0, skipped: 0 }),
    ];
    for (table, c) in expected {
        assert_eq!(counts(&report, table), c, "{table}: {report:#?}");
    }
    assert_eq!(report.learners_created, 2);
    let mut problems = report.problems.clone();
    problems.sort();
    assert_eq!(
        problems,
        vec![
            "chat_messages id 3: invalid `role`: \"narrator\" is not user, assistant or system",
            "journal_entries id 3: embedding is not a list of numbers",
            "journal_followups id 2: invalid `original_entry_id`: journal entry 3 was not imported",
            "mentor_selections id 2: invalid `session_id`: is missing",
            "user_profiles id 00000000-0000-0000-0000-0000000000b2: invalid `settings.preferredMeditationMinutes`: must be between 1 and 600",
        ]
    );

    let ada = app.ok(WELLBEING, json!({ "e": "00000000-0000-0000-0000-0000000000a1" })).await;
    let ada = &ada["learner"];
    assert_eq!((&ada["displayName"], &ada["bio"]), (&json!("Ada"), &json!("Likes tea")));
    assert_eq!(
        ada["settings"],
        json!({ "theme": "dark", "preferredMeditationMinutes": 15, "preferredMentorCategory": "stoic" })
    );
    assert_eq!(
        ada["conversationStates"],
        json!([
            { "sessionKey": "default", "state": { "step": 3, "goal": "calm" }, "lastAgent": "coach", "version": 1,
              "createdAt": "2024-05-01T10:00:00+00:00", "updatedAt": "2024-05-01T10:00:00+00:00" },
            { "sessionKey": "tutor", "state": [1, 2], "lastAgent": null, "version": 1,
              "createdAt": "2024-05-02T08:00:00+00:00", "updatedAt": "2024-05-02T08:00:00+00:00" },
        ])
    );
    let chats = ada["chatSessions"]["edges"].as_array().expect("chats");
    assert_eq!(
        chats[1]["node"],
        json!({ "startedAt": "2024-05-01T09:00:00+00:00", "endedAt": "2024-05-01T09:30:00+00:00",
                "messages": [
                    { "role": "USER", "content": "I feel stuck", "agentPersona": null, "position": 1,
                      "createdAt": "2024-05-01T09:01:00+00:00" },
                    { "role": "ASSISTANT", "content": "Let us breathe first", "agentPersona": "sage", "position": 2,
                      "createdAt": "2024-05-01T09:02:00.500+00:00" },
                ],
                "mentorSelections": [
                    { "mentorId": "sage", "contextKeywords": "stress,exams", "createdAt": "2024-05-01T09:05:00+00:00" }
                ] }),
        "messages keep their order and times; the session ends after them"
    );
    assert_eq!(
        (&chats[0]["node"]["endedAt"], &chats[0]["node"]["messages"][0]["content"]),
        (&Value::Null, &json!("Back again")),
        "a session the source left open stays open"
    );
    assert_eq!(
        ada["journalEntries"]["edges"],
        json!([
            { "node": { "content": "One topic at a time", "moodTags": [], "source": "SYNTHESIS", "embeddingDimension": 2,
                        "createdAt": "2024-05-01T20:10:00+00:00", "followUps": [] } },
            { "node": { "content": "Exams tomorrow", "moodTags": ["anxious", "tired"], "source": "MANUAL",
                        "embeddingDimension": 2, "createdAt": "2024-05-01T20:00:00+00:00",
                        "followUps": [{ "question": "What worries you most?", "answer": "Running out of time",
                                        "createdAt": "2024-05-01T20:10:00+00:00",
                                        "synthesizedEntry": { "content": "One topic at a time", "source": "SYNTHESIS" } }] } },
        ])
    );
    assert_eq!(
        ada["meditationReflections"]["edges"],
        json!([{ "node": { "durationMinutes": 10, "reflection": "Calmer now", "insight": "Breath anchors you",
                           "emotionalState": "calm", "createdAt": "2024-05-02T07:10:00+00:00",
                           "session": { "startedAt": "2024-05-02T07:00:00+00:00", "endedAt": "2024-05-02T07:10:00+00:00" } } }])
    );
    assert_eq!(
        ada["sessions"]["edges"][0]["node"],
        json!({ "startedAt": "2024-05-03T07:00:00+00:00", "endedAt": null }),
        "a meditation not completed stays open"
    );
    let bo = app.ok(WELLBEING, json!({ "e": "00000000-0000-0000-0000-0000000000b2" })).await;
    let bo = &bo["learner"];
    assert_eq!(bo["displayName"], Value::Null, "the malformed profile row is skipped whole");
    assert_eq!(
        bo["meditationReflections"]["edges"][0]["node"]["session"],
        json!({ "startedAt": "2024-05-04T06:00:00+00:00", "endedAt": "2024-05-04T06:20:00+00:00" }),
        "completed without a time: it ended its duration after it began"
    );
    assert_eq!(bo["meditationReflections"]["edges"][0]["node"]["createdAt"], json!("2024-05-04T06:20:00+00:00"));

    let tables = [
        "chat_messages",
        "journal_entries",
        "journal_follow_ups",
        "mentor_selections",
        "meditation_reflections",
        "conversation_states",
        "sessions",
    ];
    let mut before = vec![];
    for table in tables {
        before.push(app.count_rows(table, None).await);
    }
    let again = run(&app.state, Source::WellbeingDb, &url, OPTIONS).await.expect("again");
    for (table, c) in expected {
        let present = c.imported;
        assert_eq!(counts(&again, table), Counts { imported: 0, present, ..c }, "{table}: {again:#?}");
    }
    for (table, n) in tables.into_iter().zip(before) {
        assert_eq!(app.count_rows(table, None).await, n, "{table}: nothing twice");
    }
    drop_scratch(Some(scratch)).await;
}
