//! The binary itself: start-up, `token`, `schema`, `migrate`, and the open-mode guard.

use migration::MigratorTrait;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use learngraph::auth::{Auth, Viewer};

use crate::common::SECRET;

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_learngraph"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LEARNGRAPH_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn temp_db() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("learngraph-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    (dir, url)
}

#[test]
fn token_mints_a_token_the_server_accepts() {
    let out = bin()
        .args(["token", "--sub", "TestUser", "--role", "learner"])
        .env("LEARNGRAPH_JWT_SECRET", SECRET)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("utf8");
    let viewer = Auth::new(Some(SECRET)).viewer(Some(&format!("Bearer {}", token.trim()))).expect("valid token");
    assert_eq!(viewer, Viewer::Learner { external_id: "TestUser".into() });

    let out = bin().args(["token", "--sub", "x"]).output().expect("run");
    assert!(!out.status.success(), "no secret, no token");
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEARNGRAPH_JWT_SECRET"));
}

#[test]
fn schema_prints_the_sdl() {
    let out = bin().arg("schema").output().expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).expect("utf8"), learngraph::graphql::sdl());
}

#[test]
fn migrate_applies_lists_and_rolls_back() {
    let (dir, url) = temp_db();
    let run = |args: &[&str]| {
        let out = bin().args(args).args(["--database-url", &url]).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf8")
    };
    let all = migration::Migrator::migrations().len();
    let up = run(&["migrate", "up"]);
    assert_eq!(up.matches("Applied").count(), all, "{up}");
    let down = run(&["migrate", "down"]);
    assert!(down.lines().last().is_some_and(|l| l.contains("Pending")), "{down}");
    let status = run(&["migrate", "status"]);
    assert_eq!(status.matches("Applied").count(), all - 1, "{status}");
    let up_again = run(&["migrate", "up"]);
    assert_eq!(up_again.matches("Applied").count(), all, "the last migration re-applies after its down: {up_again}");
    let fresh = run(&["migrate", "fresh"]);
    assert_eq!(fresh.matches("Applied").count(), all, "{fresh}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn open_mode_refuses_a_public_address_unless_allowed() {
    let (dir, url) = temp_db();
    let out = bin().args(["--listen", "0.0.0.0:0", "--database-url", &url]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_broken_question_bank_stops_the_server_with_every_problem() {
    let (dir, url) = temp_db();
    let bank = dir.join("bank.json");
    std::fs::write(
        &bank,
        r#"{"questions": [{"id": "q1", "module": "astrology", "prompt": "?", "options": [{"value": "a", "label": "A", "weights": {"wizard": 1}}]}]}"#,
    )
    .expect("write");
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url, "--profiling-bank"])
        .arg(&bank)
        .output()
        .expect("run");
    assert!(!out.status.success(), "a broken bank must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "profiling question bank",
        "is invalid",
        "unknown module `astrology`",
        "unknown track `wizard`",
        "needs 2..=12 options",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(!dir.join("db.sqlite").exists(), "the database is not touched before the bank is valid");
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url, "--profiling-bank"])
        .arg(dir.join("missing.json"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading the profiling question bank"));
    std::fs::remove_dir_all(dir).ok();
}

/// Starts `learngraph serve` on a free port of 127.0.0.1 against `database_url`; returns the
/// process, its address, and the log lines up to the one that names it.
#[allow(clippy::zombie_processes)] // the caller kills and waits for it
pub fn serve(database_url: &str) -> (std::process::Child, String, Vec<String>) {
    serve_with(bin(), database_url)
}

/// `serve`, from a command that may carry more settings.
#[allow(clippy::zombie_processes)] // the caller kills and waits for it
pub fn serve_with(mut command: Command, database_url: &str) -> (std::process::Child, String, Vec<String>) {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            tx.send(line).ok();
        }
    });
    let mut logs = vec![];
    loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a log line before the timeout");
        logs.push(line.clone());
        if line.contains("listening") {
            let addr = line.split("address=").nth(1).and_then(|s| s.split_whitespace().next()).expect("address");
            return (child, addr.to_owned(), logs);
        }
    }
}

#[tokio::test]
async fn serve_migrates_logs_its_address_and_answers() {
    let (dir, url) = temp_db();
    let (mut child, addr, logs) = serve(&url);
    let listening = logs.last().expect("the listening line");
    assert!(listening.contains("database=sqlite://"), "the log names the database: {listening}");
    assert!(logs.iter().any(|l| l.contains("open development mode")), "{logs:#?}");
    let res = crate::common::http_client().get(format!("http://{addr}/readyz")).send().await.expect("get");
    assert_eq!(res.status(), 200);
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(dir).ok();
}

/// `LEARNGRAPH_WORKER_THREADS` sizes the runtime that serves (its log line reads the runtime's own
/// count); 0 or unset is one thread per CPU.
#[tokio::test]
async fn worker_threads_size_the_runtime() {
    let (dir, url) = temp_db();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (setting, expected) in [(Some("1"), 1), (Some("3"), 3), (Some("0"), cpus), (None, cpus)] {
        let mut command = bin();
        command.env_remove("LEARNGRAPH_WORKER_THREADS");
        if let Some(n) = setting {
            command.env("LEARNGRAPH_WORKER_THREADS", n);
        }
        let (mut child, addr, logs) = serve_with(command, &url);
        let listening = logs.last().expect("the listening line");
        let threads = listening.split("worker_threads=").nth(1).and_then(|s| s.split_whitespace().next());
        assert_eq!(threads, Some(expected.to_string().as_str()), "{setting:?}: {listening}");
        let res = crate::common::http_client()
            .post(format!("http://{addr}/graphql"))
            .header("content-type", "application/json")
            .body(r#"{"query":"{ __typename }"}"#)
            .send()
            .await
            .expect("post");
        assert_eq!(res.text().await.expect("body"), r#"{"data":{"__typename":"Query"}}"#, "{setting:?}");
        child.kill().ok();
        child.wait().ok();
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Copies `path` alone (no `-wal`, no `-shm`) and counts the learners in the copy.
async fn learners_in_copy_of(path: &std::path::Path) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let copy = path.with_extension("copy.sqlite");
    std::fs::copy(path, &copy).expect("copy");
    let db = Database::connect(format!("sqlite://{}?mode=ro", copy.display())).await.expect("open the copy");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM learners"))
        .await
        .expect("count")
        .expect("a row");
    let n = row.try_get::<i64>("", "n").expect("n");
    db.close().await.ok();
    n
}

/// After SIGTERM the server exits 0 with the log folded into the database file: copying the
/// `.sqlite` file alone is a complete backup.
#[tokio::test]
async fn a_stopped_server_leaves_everything_in_the_database_file() {
    let (dir, url) = temp_db();
    let (mut child, addr, _) = serve(&url);
    let client = crate::common::http_client();
    for i in 0..20 {
        let body = serde_json::json!({ "query": format!("mutation {{ ensureLearner(input: {{ externalId: \"kid-{i}\" }}) {{ created }} }}") });
        let res = client.post(format!("http://{addr}/graphql")).json(&body).send().await.expect("post");
        assert_eq!(res.status(), 200);
    }
    let stopped = std::time::Instant::now();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success(), "exit 0 after SIGTERM");
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(3),
        "an idle server stops at once: {:?}",
        stopped.elapsed()
    );
    let wal = dir.join("db.sqlite-wal");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the write-ahead log was checkpointed");
    assert_eq!(learners_in_copy_of(&dir.join("db.sqlite")).await, 20);
    std::fs::remove_dir_all(dir).ok();
}

/// `learngraph backup` copies a SQLite database while the server runs; on PostgreSQL it says
/// what to use instead.
#[tokio::test]
async fn backup_copies_a_live_sqlite_database() {
    let (dir, url) = temp_db();
    let (mut child, addr, _) = serve(&url);
    let client = crate::common::http_client();
    for i in 0..5 {
        let body = serde_json::json!({ "query": format!("mutation {{ ensureLearner(input: {{ externalId: \"b-{i}\" }}) {{ created }} }}") });
        client.post(format!("http://{addr}/graphql")).json(&body).send().await.expect("post");
    }
    let out = dir.join("backup.sqlite");
    let done =
        bin().args(["backup", "--out", out.to_str().expect("path"), "--database-url", &url]).output().expect("run");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(learners_in_copy_of(&out).await, 5, "the backup is one self-contained file");
    let again =
        bin().args(["backup", "--out", out.to_str().expect("path"), "--database-url", &url]).output().expect("run");
    assert!(!again.status.success(), "an existing file is not overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    child.kill().ok();
    child.wait().ok();
    let pg = bin()
        .args(["backup", "--out", "/tmp/never.sqlite", "--database-url", "postgres://postgres@127.0.0.1:5432/test"])
        .output()
        .expect("run");
    assert!(!pg.status.success());
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&pg.stderr));
    std::fs::remove_dir_all(dir).ok();
}

/// A PostgreSQL URL naming a database that does not exist yet: it is created (and logged).
#[tokio::test]
#[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
async fn a_missing_postgres_database_is_created() {
    use sea_orm::{ConnectionTrait, Database};
    let admin = crate::common::postgres_url().expect("LEARNGRAPH_TEST_POSTGRES_URL");
    let base = admin.rsplit_once('/').expect("a path").0;
    let name = format!("lg_test_missing_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{base}/{name}");
    let out = bin().args(["migrate", "up", "--database-url", &url]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("created the database"), "{stderr}");
    // It holds the migrated schema, and a second start finds it.
    let again = bin().args(["migrate", "status", "--database-url", &url]).output().expect("run");
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("created the database"));
    let conn = Database::connect(&admin).await.expect("admin");
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("drop");
}

#[tokio::test]
async fn trust_builds_a_manifest_the_server_loads() {
    let (dir, url) = temp_db();
    let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/contract");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(contract)
        .expect("contract/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    let manifest = dir.join("trusted.json");
    let out = bin().arg("trust").args(&files).arg("--out").arg(&manifest).output().expect("run trust");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&manifest).expect("manifest")).expect("a JSON object");
    let operations: usize = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            text.lines()
                .filter(|l| l.starts_with("query ") || l.starts_with("mutation ") || l.starts_with("subscription "))
                .count()
        })
        .sum();
    assert_eq!(written.len(), operations, "one document per operation");
    for (id, text) in &written {
        assert_eq!(*id, learngraph::trusted::document_id(text), "keyed by the SHA-256 of the text");
    }
    // The server starts with it; a manifest with a broken document stops it with a clear message.
    let (mut child, _, logs) = {
        let mut cmd = bin();
        cmd.env("LEARNGRAPH_TRUSTED_DOCUMENTS", &manifest);
        serve_with(cmd, &url)
    };
    assert!(
        logs.iter().any(|l| l.contains("trusted documents loaded") && l.contains(&format!("documents={operations}"))),
        "{logs:#?}"
    );
    child.kill().ok();
    child.wait().ok();
    std::fs::write(&manifest, r#"{"x": "{ broken"}"#).expect("write");
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .env("LEARNGRAPH_TRUSTED_DOCUMENTS", &manifest)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("document x does not parse"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

/// Holds SQLite's write lock from another connection, so that a write sent to the server waits.
async fn hold_write_lock(url: &str) -> sea_orm::DatabaseConnection {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.expect("connect");
    db.execute_unprepared("BEGIN IMMEDIATE").await.expect("take the write lock");
    db
}

fn terminate(child: &std::process::Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

/// SIGTERM lets a request in flight finish and answer, then exits 0; a request that outlives
/// `LEARNGRAPH_SHUTDOWN_GRACE_SECS` does not keep the process alive.
#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_within_the_grace() {
    use sea_orm::ConnectionTrait;
    let (dir, url) = temp_db();
    let (mut child, addr, _) = serve(&url);
    let lock = hold_write_lock(&url).await;
    let write = |name: &'static str| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let body = serde_json::json!({ "query": format!("mutation {{ ensureLearner(input: {{ externalId: \"{name}\" }}) {{ created }} }}") });
            let res = crate::common::http_client().post(format!("http://{addr}/graphql")).json(&body).send().await;
            res.ok().map(|r| r.status().as_u16())
        })
    };
    let in_flight = write("in-flight");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    terminate(&child);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(child.try_wait().expect("try_wait").is_none(), "still finishing the request in flight");
    lock.execute_unprepared("ROLLBACK").await.expect("release");
    assert_eq!(in_flight.await.expect("join"), Some(200), "the request in flight was answered");
    assert!(child.wait().expect("wait").success(), "exit 0 after SIGTERM");
    assert_eq!(learners_in_copy_of(&dir.join("db.sqlite")).await, 1, "and its write kept");

    // A request stuck past the grace: the process exits anyway, and cleanly.
    let mut command = bin();
    command.env("LEARNGRAPH_SHUTDOWN_GRACE_SECS", "1");
    let (mut child, addr, _) = serve_with(command, &url);
    lock.execute_unprepared("BEGIN IMMEDIATE").await.expect("take the write lock");
    let addr_for_stuck = addr.clone();
    let stuck = tokio::spawn(async move {
        let body =
            serde_json::json!({ "query": "mutation { ensureLearner(input: { externalId: \"stuck\" }) { created } }" });
        crate::common::http_client().post(format!("http://{addr_for_stuck}/graphql")).json(&body).send().await.is_ok()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopped = std::time::Instant::now();
    terminate(&child);
    assert!(child.wait().expect("wait").success(), "exit 0 after the grace");
    assert!(stopped.elapsed() < std::time::Duration::from_secs(8), "bounded by the grace: {:?}", stopped.elapsed());
    assert!(!stuck.await.expect("join"), "the stuck request was dropped, not answered");
    lock.execute_unprepared("ROLLBACK").await.expect("release");
    drop(child);
    std::fs::remove_dir_all(dir).ok();
}
