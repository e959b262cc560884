//! The activity feed behind live subscriptions: one row per thing a learner did, numbered per
//! learner in commit order, and on PostgreSQL a trigger that announces each new row to every
//! replica (`LISTEN learngraph_activity`) when its transaction commits.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    LearnerId,
    Seq,
    Kind,
    SubjectId,
    OccurredAt,
}

#[derive(DeriveIden)]
enum ActivityHeads {
    Table,
    LearnerId,
    Seq,
}

/// The notice carries the learner id only (36 bytes, far under NOTIFY's 8,000-byte limit), so
/// PostgreSQL folds a transaction's notices for one learner into one; listeners read the rows.
const NOTIFY_TRIGGER: &str = r#"
CREATE FUNCTION learngraph_notify_activity() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('learngraph_activity', NEW.learner_id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER activity_notify AFTER INSERT ON activities
    FOR EACH ROW EXECUTE FUNCTION learngraph_notify_activity();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivityHeads::Table)
                    .col(uuid(ActivityHeads::LearnerId).primary_key())
                    .col(big_integer(ActivityHeads::Seq))
                    .foreign_key(&mut learner_fk(ActivityHeads::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .col(uuid(Activities::Id).primary_key())
                    .col(uuid(Activities::LearnerId))
                    .col(big_integer(Activities::Seq))
                    .col(string(Activities::Kind))
                    .col(uuid_null(Activities::SubjectId))
                    .col(timestamp_with_time_zone(Activities::OccurredAt))
                    .foreign_key(&mut learner_fk(Activities::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Activities::Table, "idx_activities_learner_seq", &["learner_id", "seq"], true))
            .await?;
        manager.create_index(index(Activities::Table, "idx_activities_occurred_at", &["occurred_at"], false)).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(NOTIFY_TRIGGER).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP TRIGGER IF EXISTS activity_notify ON activities; \
                     DROP FUNCTION IF EXISTS learngraph_notify_activity();",
                )
                .await?;
        }
        manager.drop_table(Table::drop().table(Activities::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ActivityHeads::Table).to_owned()).await
    }
}
