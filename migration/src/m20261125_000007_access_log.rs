//! The access log: who read or wrote which learner's data, one row per (request, learner), and
//! the records of erasures, which outlive their learner (no `learner_id`, only a hash of the
//! externalId, so a school can show that a named child was erased without keeping the name).

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccessLog {
    Table,
    Id,
    LearnerId,
    SubjectHash,
    At,
    Actor,
    Role,
    Action,
    OperationName,
    Fields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessLog::Table)
                    .col(uuid(AccessLog::Id).primary_key())
                    .col(uuid_null(AccessLog::LearnerId))
                    .col(string_null(AccessLog::SubjectHash))
                    .col(timestamp_with_time_zone(AccessLog::At))
                    .col(string(AccessLog::Actor))
                    .col(string(AccessLog::Role))
                    .col(string(AccessLog::Action))
                    .col(string_null(AccessLog::OperationName))
                    .col(json_binary(AccessLog::Fields))
                    .foreign_key(&mut learner_fk(AccessLog::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(AccessLog::Table, "idx_access_log_learner_at", &["learner_id", "at", "id"], false))
            .await?;
        manager.create_index(index(AccessLog::Table, "idx_access_log_subject", &["subject_hash"], false)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessLog::Table).to_owned()).await
    }
}
