//! Reads on stashed connections (`reader.rs`): a connection whose statement completed is reused
//! for the next read; one whose statement failed or was cancelled goes back through the pool's
//! test; idle ones go back to the pool; the stash never holds more than half the pool; every
//! statement is counted.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbErr, Statement};

use crate::common::{Backend, TestApp};

crate::on_each_backend!(
    a_completed_read_leaves_its_connection_for_the_next,
    a_cancelled_read_does_not_leave_its_connection,
    a_failed_read_does_not_leave_its_connection,
    idle_connections_go_back_to_the_pool,
    a_connection_in_steady_use_goes_back_to_the_pool_after_its_cycle,
    the_stash_holds_at_most_half_the_pool,
);

fn statement(app: &TestApp, sql: &str) -> Statement {
    Statement::from_string(app.state.db.get_database_backend(), sql)
}

/// A read that runs for seconds on either engine.
fn slow(app: &TestApp) -> Statement {
    statement(
        app,
        match app.backend {
            Backend::Postgres => "SELECT CAST(1 AS BIGINT) AS n FROM pg_sleep(1)",
            Backend::Sqlite => {
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                 SELECT count(*) AS n FROM c"
            }
        },
    )
}

async fn one_i64(app: &TestApp, sql: &str) -> Result<i64, DbErr> {
    let row = app.state.reader.query_one_raw(statement(app, sql)).await?.expect("a row");
    row.try_get::<i64>("", "n")
}

async fn a_completed_read_leaves_its_connection_for_the_next(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = &app.state.reader;
    reader.release();
    assert_eq!(reader.stashed(), 0);
    let before = app.state.statements.get();
    for i in 1..=5i64 {
        assert_eq!(one_i64(&app, &format!("SELECT CAST({i} AS BIGINT) AS n")).await.expect("read"), i);
        assert_eq!(reader.stashed(), 1, "read {i} left its connection, and the next took it");
    }
    assert_eq!(app.state.statements.get() - before, 5, "each statement is counted");
    if backend == Backend::Postgres {
        // The same server process answers both: the second read ran on the first one's connection.
        let pid = "SELECT CAST(pg_backend_pid() AS BIGINT) AS n";
        assert_eq!(one_i64(&app, pid).await.expect("pid"), one_i64(&app, pid).await.expect("pid"));
    }
    // Results through the reader are the rows `DatabaseConnection` reads.
    let rows = reader.query_all_raw(statement(&app, "SELECT CAST(1 AS BIGINT) AS n UNION ALL SELECT 2")).await;
    let ns: Vec<i64> = rows.expect("rows").iter().map(|r| r.try_get("", "n").expect("n")).collect();
    assert_eq!(ns, [1, 2]);
}

async fn a_cancelled_read_does_not_leave_its_connection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = &app.state.reader;
    reader.release();
    let cancelled = tokio::time::timeout(Duration::from_millis(20), reader.query_one_raw(slow(&app))).await;
    assert!(cancelled.is_err(), "the slow read was cancelled by the timeout");
    assert_eq!(reader.stashed(), 0, "a connection whose statement did not finish is not reused");
    // The next read runs on another connection and answers correctly.
    assert_eq!(one_i64(&app, "SELECT CAST(7 AS BIGINT) AS n").await.expect("read"), 7);
    assert_eq!(reader.stashed(), 1);
}

async fn a_failed_read_does_not_leave_its_connection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = &app.state.reader;
    reader.release();
    let failed = reader.query_all_raw(statement(&app, "SELECT n FROM no_such_table")).await;
    assert!(matches!(failed, Err(DbErr::Query(_))), "{failed:?}");
    assert_eq!(reader.stashed(), 0);
    assert_eq!(one_i64(&app, "SELECT CAST(3 AS BIGINT) AS n").await.expect("read"), 3);
    assert_eq!(reader.stashed(), 1);
}

async fn idle_connections_go_back_to_the_pool(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = &app.state.reader;
    one_i64(&app, "SELECT CAST(1 AS BIGINT) AS n").await.expect("read");
    assert!(reader.stashed() >= 1);
    // A second of idleness makes a stashed connection stale; the sweep runs every second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while reader.stashed() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "stale connections stayed stashed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The pool has them back: reads and writes go on.
    assert_eq!(one_i64(&app, "SELECT CAST(2 AS BIGINT) AS n").await.expect("read"), 2);
}

async fn a_connection_in_steady_use_goes_back_to_the_pool_after_its_cycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let counted = learngraph::db::StatementCounter::default();
    let cycle = Duration::from_millis(600);
    let reader = learngraph::reader::Reader::cycling(&app.state.db, counted.clone(), cycle);
    let read = || async {
        let row = reader.query_one_raw(statement(&app, "SELECT CAST(5 AS BIGINT) AS n")).await;
        assert_eq!(row.expect("read").expect("row").try_get::<i64>("", "n").expect("n"), 5);
    };
    // The connection is checked out after `start`, so it has been out for less than that.
    let start = std::time::Instant::now();
    read().await;
    assert_eq!(reader.stashed(), 1);
    // Read every 100 ms, never idle for a second: within its cycle the connection is kept.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        read().await;
        if start.elapsed() < cycle {
            assert_eq!(reader.stashed(), 1, "within its cycle, the connection is kept");
        }
    }
    // Still used within a second of the last read, but out of the pool for longer than its cycle.
    tokio::time::sleep(
        (start + cycle + Duration::from_millis(100)).saturating_duration_since(std::time::Instant::now()),
    )
    .await;
    read().await;
    assert_eq!(reader.stashed(), 0, "out of the pool for its cycle, it went back");
    read().await;
    assert_eq!(reader.stashed(), 1, "a new checkout starts a new cycle");
    assert_eq!(counted.get(), 5);
}

async fn the_stash_holds_at_most_half_the_pool(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.state.reader.clone();
    let max = match backend {
        Backend::Postgres => app.state.db.get_postgres_connection_pool().options().get_max_connections(),
        Backend::Sqlite => app.state.db.get_sqlite_connection_pool().options().get_max_connections(),
    } as usize;
    let sql = match backend {
        Backend::Postgres => "SELECT CAST(count(*) AS BIGINT) AS n FROM pg_sleep(0.05)",
        Backend::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) \
             SELECT count(*) AS n FROM c"
        }
    };
    let reads: Vec<_> = (0..2 * max)
        .map(|_| {
            let (reader, stmt) = (reader.clone(), statement(&app, sql));
            tokio::spawn(async move { reader.query_one_raw(stmt).await })
        })
        .collect();
    for read in reads {
        let row = read.await.expect("task").expect("read").expect("row");
        assert!(row.try_get::<i64>("", "n").expect("n") >= 1);
    }
    let stashed = reader.stashed();
    assert!((1..=max / 2).contains(&stashed), "{stashed} stashed of a pool of {max}");
    // Writes find connections while the stash holds its share.
    let made = app
        .ok(
            "mutation { ensureLearner(input: { externalId: \"w\" }) { learner { externalId } } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(made["ensureLearner"]["learner"]["externalId"], "w");
}
