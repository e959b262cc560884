//! Checks on the project itself: the SDL contract, the README's configuration table, and that
//! erasure knows every learner-owned table.

use clap::CommandFactory;
use sea_orm::ConnectionTrait;

use crate::common::{Backend, TestApp};

#[test]
fn schema_graphql_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema.graphql");
    let sdl = learngraph::graphql::sdl();
    if std::env::var("LEARNGRAPH_UPDATE_SCHEMA").is_ok() {
        std::fs::write(path, &sdl).expect("write schema");
    }
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored == sdl,
        "tests/schema.graphql is stale: run `cargo run -- schema > tests/schema.graphql` \
         (or LEARNGRAPH_UPDATE_SCHEMA=1 cargo test schema_graphql_is_current) and review the diff"
    );
}

#[test]
fn readme_configuration_table_lists_every_setting() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let cmd = learngraph::config::Cli::command();
    let mut checked = 0;
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let env = env.to_string_lossy();
        let flag = format!("--{}", arg.get_long().expect("long flag"));
        let row = readme.lines().find(|l| l.starts_with('|') && l.contains(&format!("`{env}`")));
        let row = row.unwrap_or_else(|| panic!("README configuration table has no row for `{env}`"));
        assert!(row.contains(&format!("`{flag}`")), "README row for {env} names its flag {flag}");
        checked += 1;
    }
    assert!(checked >= 10, "the settings were found ({checked})");
}

crate::on_each_backend!(
    every_table_is_in_the_learner_registry_or_shared,
    connection_settings_are_applied,
    the_database_refuses_rows_that_point_at_another_learners_goal_or_session,
);

/// Every table in the database is either learner data, listed in the registry that erasure (and
/// export) walk, or explicitly shared; a table with a `learner_id` column is always learner data.
async fn every_table_is_in_the_learner_registry_or_shared(b: Backend) {
    use learngraph::store::registry::{LEARNER_TABLES, LEARNERS, Reach, SHARED_TABLES};
    let app = TestApp::spawn(b).await;
    let (tables, columns) = crate::common::catalog(&app).await;
    let has = |t: &str, c: &str| columns.iter().any(|(tt, cc)| tt == t && cc == c);
    assert!(tables.contains(&LEARNERS.to_owned()));
    for t in tables.iter().filter(|t| *t != LEARNERS) {
        let listed = LEARNER_TABLES.iter().find(|l| l.name == t);
        let shared = SHARED_TABLES.contains(&t.as_str());
        assert!(
            listed.is_some() != shared,
            "table `{t}` must be in exactly one of store::registry::LEARNER_TABLES and SHARED_TABLES"
        );
        if shared {
            assert!(!has(t, "learner_id"), "`{t}` has a learner_id column, so it holds learner data: not shared");
        }
    }
    for l in LEARNER_TABLES {
        assert!(tables.contains(&l.name.to_owned()), "registry names `{}`, which is not in the database", l.name);
        match l.reach {
            Reach::LearnerId => assert!(has(l.name, "learner_id"), "`{}` has no learner_id column", l.name),
            Reach::Parent { column, parent } => {
                assert!(has(l.name, column), "`{}` has no `{column}` column", l.name);
                let p = LEARNER_TABLES.iter().position(|x| x.name == parent);
                let me = LEARNER_TABLES.iter().position(|x| x.name == l.name);
                assert!(p > me, "`{}` must come before its parent `{parent}` (erasure deletes in order)", l.name);
            }
        }
    }
}

/// The SQLite pragmas (WAL, busy timeout, foreign keys) and the PostgreSQL statement timeout are
/// set on the pooled connections the server really uses.
async fn connection_settings_are_applied(b: Backend) {
    let app = TestApp::spawn_with(b, Default::default(), |c| c.statement_timeout_ms = 2_500).await;
    let db = &app.state.db;
    let one = |sql: &str| sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned());
    match b {
        Backend::Sqlite => {
            for (sql, col, expected) in [
                ("PRAGMA journal_mode", "journal_mode", "wal"),
                ("PRAGMA busy_timeout", "timeout", "30000"),
                ("PRAGMA foreign_keys", "foreign_keys", "1"),
            ] {
                let row = db.query_one_raw(one(sql)).await.expect("pragma").expect("row");
                let value = row
                    .try_get::<String>("", col)
                    .or_else(|_| row.try_get::<i64>("", col).map(|v| v.to_string()))
                    .expect("value");
                assert_eq!(value, expected, "{sql}");
            }
        }
        Backend::Postgres => {
            let row = db.query_one_raw(one("SHOW statement_timeout")).await.expect("show").expect("row");
            assert_eq!(row.try_get::<String>("", "statement_timeout").expect("value"), "2500ms");
        }
    }
}

/// The same-learner rule is kept by the database too: an attempt or event that names another
/// learner's goal or session is refused by the composite foreign keys, whatever code wrote it.
async fn the_database_refuses_rows_that_point_at_another_learners_goal_or_session(b: Backend) {
    use entity::{attempt, event};
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(b).await;
    let mine = crate::common::uuid_of(&app.learner("mine").await);
    let theirs = app.learner("theirs").await;
    let their_goal = crate::common::uuid_of(&app.goal(&theirs).await);
    let session = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } } }",
            serde_json::json!({ "l": theirs }),
        )
        .await;
    let their_session = crate::common::uuid_of(session["startSession"]["session"]["id"].as_str().expect("id"));
    let now = chrono::Utc::now();
    let attempt = |goal_id: Option<uuid::Uuid>, session_id: Option<uuid::Uuid>| attempt::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        learner_id: Set(mine),
        session_id: Set(session_id),
        goal_id: Set(goal_id),
        exercise_id: Set("e".into()),
        activity_type: Set(None),
        objective_id: Set(None),
        is_correct: Set(true),
        score: Set(None),
        user_answer: Set(None),
        response_time_ms: Set(None),
        details: Set(None),
        occurred_at: Set(now),
        local_date: Set(now.date_naive()),
        created_at: Set(now),
        idempotency_key: Set(None),
        completed: Set(None),
    };
    let db = &app.state.db;
    assert!(attempt(Some(their_goal), None).insert(db).await.is_err(), "attempt on another learner's goal");
    assert!(attempt(None, Some(their_session)).insert(db).await.is_err(), "attempt in another learner's session");
    let ev = event::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        learner_id: Set(mine),
        goal_id: Set(Some(their_goal)),
        kind: Set("k".into()),
        payload: Set(serde_json::json!({})),
        occurred_at: Set(now),
        created_at: Set(now),
        idempotency_key: Set(None),
    };
    assert!(ev.insert(db).await.is_err(), "event about another learner's goal");
    assert!(attempt(None, None).insert(db).await.is_ok(), "a row naming neither is fine");
    assert_eq!(app.count_rows("attempts", Some(mine)).await, 1);
    assert_eq!(app.count_rows("events", Some(mine)).await, 0);
}

/// Every type, field, argument, input field and enum value of the schema has a description: they
/// are what GraphiQL and client code generators show. (The spec's own scalars and the
/// introspection types are documented by the spec.)
#[test]
fn every_schema_element_is_documented() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let sdl = learngraph::graphql::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let built_in = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = Vec::new();
    let blank = |d: &Option<async_graphql::Positioned<String>>| d.as_ref().is_none_or(|d| d.node.trim().is_empty());
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else { continue };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if name.starts_with("__") || built_in.contains(&name) {
            continue;
        }
        if blank(&ty.description) {
            missing.push(name.to_owned());
        }
        match &ty.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    if blank(&f.node.description) {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                    for a in &f.node.arguments {
                        if blank(&a.node.description) {
                            missing.push(format!("{name}.{}({})", f.node.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::Interface(i) => {
                for f in &i.fields {
                    if blank(&f.node.description) {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    if blank(&f.node.description) {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if blank(&v.node.description) {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(missing.is_empty(), "{} undocumented schema elements:\n{}", missing.len(), missing.join("\n"));
}
