//! Rows that point at a goal or a session point at one of their own learner's: the foreign keys
//! become composite, `(learner_id, goal_id) -> goals (learner_id, id)` and `(learner_id,
//! session_id) -> sessions (learner_id, id)`, so the database itself refuses an attempt, event or
//! profile version that names another learner's goal or session.
//!
//! A composite key cannot be `ON DELETE SET NULL` (it would null `learner_id` too), so attempts now
//! block the deletion of their goal or session (NO ACTION): whoever deletes a session deletes or
//! detaches its attempts first, as `resetProgress` and erasure do. Events and profile versions keep
//! going with their goal (CASCADE).
//!
//! PostgreSQL swaps the constraints in place. SQLite cannot alter a foreign key, so the three
//! child tables are rebuilt (create, copy, drop, rename) inside one transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::util::{index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Goals {
    Table,
    Id,
    LearnerId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    LearnerId,
}

/// Which shape of the foreign keys to build: the composite ones (up) or the old single-column ones
/// (down).
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    SameLearner,
    ById,
}

/// A foreign key from `table.col` (with `learner_id` when composite) to `parent`.
fn parent_fk(
    table: &str,
    col: &str,
    parent: impl IntoIden + Copy + 'static,
    parent_learner: impl IntoIden + Copy + 'static,
    parent_id: impl IntoIden + Copy + 'static,
    keys: Keys,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let mut fk = ForeignKey::create();
    fk.from_tbl(Alias::new(table)).to_tbl(parent).on_delete(on_delete);
    match keys {
        Keys::SameLearner => {
            fk.name(format!("fk_{table}_learner_{col}"))
                .from_col(Alias::new("learner_id"))
                .from_col(Alias::new(col))
                .to_col(parent_learner)
                .to_col(parent_id);
        }
        Keys::ById => {
            fk.from_col(Alias::new(col)).to_col(parent_id);
        }
    }
    fk.to_owned()
}

fn goal_fk(table: &str, keys: Keys, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    parent_fk(table, "goal_id", Goals::Table, Goals::LearnerId, Goals::Id, keys, on_delete)
}

fn session_fk(table: &str, keys: Keys, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    parent_fk(table, "session_id", Sessions::Table, Sessions::LearnerId, Sessions::Id, keys, on_delete)
}

/// `attempts` as migration 2 made it, with the given keys, under the name `name`.
fn attempts(name: &str, keys: Keys) -> TableCreateStatement {
    // Composite keys cannot SET NULL; the old single-column ones did.
    let action = if keys == Keys::SameLearner { ForeignKeyAction::NoAction } else { ForeignKeyAction::SetNull };
    let t = || Alias::new(name);
    Table::create()
        .table(t())
        .col(pk_uuid(Alias::new("id")))
        .col(uuid(Alias::new("learner_id")))
        .col(uuid_null(Alias::new("session_id")))
        .col(uuid_null(Alias::new("goal_id")))
        .col(string(Alias::new("exercise_id")))
        .col(string_null(Alias::new("activity_type")))
        .col(string_null(Alias::new("objective_id")))
        .col(boolean(Alias::new("is_correct")))
        .col(double_null(Alias::new("score")))
        .col(text_null(Alias::new("user_answer")))
        .col(integer_null(Alias::new("response_time_ms")))
        .col(json_binary_null(Alias::new("details")))
        .col(timestamp_with_time_zone(Alias::new("occurred_at")))
        .col(date(Alias::new("local_date")))
        .col(timestamp_with_time_zone(Alias::new("created_at")))
        .col(string_null(Alias::new("idempotency_key")))
        .foreign_key(&mut learner_fk(t()))
        .foreign_key(&mut renamed(session_fk("attempts", keys, action), name))
        .foreign_key(&mut renamed(goal_fk("attempts", keys, action), name))
        .to_owned()
}

fn events(name: &str, keys: Keys) -> TableCreateStatement {
    let t = || Alias::new(name);
    Table::create()
        .table(t())
        .col(pk_uuid(Alias::new("id")))
        .col(uuid(Alias::new("learner_id")))
        .col(uuid_null(Alias::new("goal_id")))
        .col(string(Alias::new("kind")))
        .col(json_binary(Alias::new("payload")))
        .col(timestamp_with_time_zone(Alias::new("occurred_at")))
        .col(timestamp_with_time_zone(Alias::new("created_at")))
        .col(string_null(Alias::new("idempotency_key")))
        .foreign_key(&mut learner_fk(t()))
        .foreign_key(&mut renamed(goal_fk("events", keys, ForeignKeyAction::Cascade), name))
        .to_owned()
}

fn goal_profile_versions(name: &str, keys: Keys) -> TableCreateStatement {
    let t = || Alias::new(name);
    Table::create()
        .table(t())
        .col(pk_uuid(Alias::new("id")))
        .col(uuid(Alias::new("goal_id")))
        .col(uuid(Alias::new("learner_id")))
        .col(integer(Alias::new("version")))
        .col(json_binary(Alias::new("profile")))
        .col(timestamp_with_time_zone(Alias::new("created_at")))
        .foreign_key(&mut renamed(goal_fk("goal_profile_versions", keys, ForeignKeyAction::Cascade), name))
        .foreign_key(&mut learner_fk(t()))
        .to_owned()
}

/// The foreign key as declared inside `CREATE TABLE name` (the temporary name of a rebuild).
fn renamed(mut fk: ForeignKeyCreateStatement, table: &str) -> ForeignKeyCreateStatement {
    fk.from_tbl(Alias::new(table));
    fk
}

/// The indexes of each rebuilt table, as migrations 1 and 2 made them (SQLite drops them with the
/// old table).
fn indexes(table: &str) -> Vec<IndexCreateStatement> {
    let t = || Alias::new(table);
    match table {
        "attempts" => vec![
            index(t(), "idx_attempts_learner_occurred", &["learner_id", "occurred_at", "id"], false),
            index(t(), "idx_attempts_session_occurred", &["session_id", "occurred_at", "id"], false),
            index(t(), "idx_attempts_learner_idempotency", &["learner_id", "idempotency_key"], true),
        ],
        "events" => vec![
            index(t(), "idx_events_learner_occurred", &["learner_id", "occurred_at", "id"], false),
            index(t(), "idx_events_learner_idempotency", &["learner_id", "idempotency_key"], true),
        ],
        "goal_profile_versions" => {
            vec![index(t(), "idx_goal_profile_versions_goal_version", &["goal_id", "version"], true)]
        }
        _ => vec![],
    }
}

const COLUMNS: &[(&str, &str)] = &[
    (
        "attempts",
        "id, learner_id, session_id, goal_id, exercise_id, activity_type, objective_id, is_correct, score, \
         user_answer, response_time_ms, details, occurred_at, local_date, created_at, idempotency_key",
    ),
    ("events", "id, learner_id, goal_id, kind, payload, occurred_at, created_at, idempotency_key"),
    ("goal_profile_versions", "id, goal_id, learner_id, version, profile, created_at"),
];

/// SQLite: rebuild each child table with the given keys.
async fn rebuild_sqlite(manager: &SchemaManager<'_>, keys: Keys) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for (table, columns) in COLUMNS {
        let tmp = format!("{table}_rebuild");
        let create = match *table {
            "attempts" => attempts(&tmp, keys),
            "events" => events(&tmp, keys),
            _ => goal_profile_versions(&tmp, keys),
        };
        manager.create_table(create).await?;
        db.execute_unprepared(&format!("INSERT INTO {tmp} ({columns}) SELECT {columns} FROM {table}")).await?;
        db.execute_unprepared(&format!("DROP TABLE {table}")).await?;
        db.execute_unprepared(&format!("ALTER TABLE {tmp} RENAME TO {table}")).await?;
        for idx in indexes(table) {
            manager.create_index(idx).await?;
        }
    }
    Ok(())
}

/// PostgreSQL: swap the constraints in place (names as PostgreSQL gave them in migrations 1 and 2).
async fn swap_postgres(manager: &SchemaManager<'_>, keys: Keys) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let fks: [(&str, &str, ForeignKeyCreateStatement, ForeignKeyCreateStatement); 4] = [
        (
            "attempts",
            "session_id",
            session_fk("attempts", Keys::SameLearner, ForeignKeyAction::NoAction),
            session_fk("attempts", Keys::ById, ForeignKeyAction::SetNull),
        ),
        (
            "attempts",
            "goal_id",
            goal_fk("attempts", Keys::SameLearner, ForeignKeyAction::NoAction),
            goal_fk("attempts", Keys::ById, ForeignKeyAction::SetNull),
        ),
        (
            "events",
            "goal_id",
            goal_fk("events", Keys::SameLearner, ForeignKeyAction::Cascade),
            goal_fk("events", Keys::ById, ForeignKeyAction::Cascade),
        ),
        (
            "goal_profile_versions",
            "goal_id",
            goal_fk("goal_profile_versions", Keys::SameLearner, ForeignKeyAction::Cascade),
            goal_fk("goal_profile_versions", Keys::ById, ForeignKeyAction::Cascade),
        ),
    ];
    for (table, col, same_learner, by_id) in fks {
        let (old_name, new) = match keys {
            Keys::SameLearner => (format!("{table}_{col}_fkey"), same_learner),
            Keys::ById => (format!("fk_{table}_learner_{col}"), by_id),
        };
        db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {old_name}")).await?;
        let mut new = new;
        if keys == Keys::ById {
            new.name(format!("{table}_{col}_fkey"));
        }
        manager.create_foreign_key(new).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// The SQLite rebuild must be all or nothing.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The parent side of a composite key must be unique.
        manager.create_index(index(Goals::Table, "idx_goals_learner_id", &["learner_id", "id"], true)).await?;
        manager.create_index(index(Sessions::Table, "idx_sessions_learner_id", &["learner_id", "id"], true)).await?;
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_sqlite(manager, Keys::SameLearner).await,
            _ => swap_postgres(manager, Keys::SameLearner).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_sqlite(manager, Keys::ById).await?,
            _ => swap_postgres(manager, Keys::ById).await?,
        }
        for (table, name) in [
            (Goals::Table.into_iden(), "idx_goals_learner_id"),
            (Sessions::Table.into_iden(), "idx_sessions_learner_id"),
        ] {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        Ok(())
    }
}
