//! Learner details: preferences, interests, struggles, cognitive metrics (with every record kept),
//! learning-objective progress and badges; and `attempts.completed`, the flag of the old
//! `activity_attempts` table (an activity can be finished without being "correct").

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Preferences {
    Table,
    LearnerId,
    Category,
    Value,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Interests {
    Table,
    LearnerId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Struggles {
    Table,
    LearnerId,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CognitiveMetrics {
    Table,
    LearnerId,
    TaskName,
    Metrics,
    RecordedAt,
}

#[derive(DeriveIden)]
enum CognitiveMetricRecords {
    Table,
    Id,
    LearnerId,
    TaskName,
    Metrics,
    RecordedAt,
}

#[derive(DeriveIden)]
enum ObjectiveProgress {
    Table,
    LearnerId,
    ObjectiveId,
    Status,
    Score,
    Details,
    StartedAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Badges {
    Table,
    LearnerId,
    BadgeId,
    Name,
    Details,
    EarnedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Completed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Preferences::Table)
                    .col(uuid(Preferences::LearnerId))
                    .col(string(Preferences::Category))
                    .col(text(Preferences::Value))
                    .col(timestamp_with_time_zone(Preferences::CreatedAt))
                    .col(timestamp_with_time_zone(Preferences::UpdatedAt))
                    .primary_key(Index::create().col(Preferences::LearnerId).col(Preferences::Category))
                    .foreign_key(&mut learner_fk(Preferences::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Interests::Table)
                    .col(uuid(Interests::LearnerId))
                    .col(string(Interests::Name))
                    .col(timestamp_with_time_zone(Interests::CreatedAt))
                    .primary_key(Index::create().col(Interests::LearnerId).col(Interests::Name))
                    .foreign_key(&mut learner_fk(Interests::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Struggles::Table)
                    .col(uuid(Struggles::LearnerId))
                    .col(string(Struggles::Description))
                    .col(timestamp_with_time_zone(Struggles::CreatedAt))
                    .primary_key(Index::create().col(Struggles::LearnerId).col(Struggles::Description))
                    .foreign_key(&mut learner_fk(Struggles::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CognitiveMetrics::Table)
                    .col(uuid(CognitiveMetrics::LearnerId))
                    .col(string(CognitiveMetrics::TaskName))
                    .col(json_binary(CognitiveMetrics::Metrics))
                    .col(timestamp_with_time_zone(CognitiveMetrics::RecordedAt))
                    .primary_key(Index::create().col(CognitiveMetrics::LearnerId).col(CognitiveMetrics::TaskName))
                    .foreign_key(&mut learner_fk(CognitiveMetrics::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CognitiveMetricRecords::Table)
                    .col(pk_uuid(CognitiveMetricRecords::Id))
                    .col(uuid(CognitiveMetricRecords::LearnerId))
                    .col(string(CognitiveMetricRecords::TaskName))
                    .col(json_binary(CognitiveMetricRecords::Metrics))
                    .col(timestamp_with_time_zone(CognitiveMetricRecords::RecordedAt))
                    .foreign_key(&mut learner_fk(CognitiveMetricRecords::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                CognitiveMetricRecords::Table,
                "idx_cognitive_metric_records_task",
                &["learner_id", "task_name", "recorded_at", "id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ObjectiveProgress::Table)
                    .col(uuid(ObjectiveProgress::LearnerId))
                    .col(string(ObjectiveProgress::ObjectiveId))
                    .col(string(ObjectiveProgress::Status))
                    .col(double_null(ObjectiveProgress::Score))
                    .col(json_binary_null(ObjectiveProgress::Details))
                    .col(timestamp_with_time_zone_null(ObjectiveProgress::StartedAt))
                    .col(timestamp_with_time_zone_null(ObjectiveProgress::CompletedAt))
                    .col(timestamp_with_time_zone(ObjectiveProgress::CreatedAt))
                    .col(timestamp_with_time_zone(ObjectiveProgress::UpdatedAt))
                    .primary_key(Index::create().col(ObjectiveProgress::LearnerId).col(ObjectiveProgress::ObjectiveId))
                    .foreign_key(&mut learner_fk(ObjectiveProgress::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Badges::Table)
                    .col(uuid(Badges::LearnerId))
                    .col(string(Badges::BadgeId))
                    .col(string(Badges::Name))
                    .col(json_binary_null(Badges::Details))
                    .col(timestamp_with_time_zone(Badges::EarnedAt))
                    .col(timestamp_with_time_zone(Badges::CreatedAt))
                    .primary_key(Index::create().col(Badges::LearnerId).col(Badges::BadgeId))
                    .foreign_key(&mut learner_fk(Badges::Table))
                    .to_owned(),
            )
            .await?;
        // Objectives list their attempts, newest first.
        manager
            .create_index(index(
                Alias::new("attempts"),
                "idx_attempts_learner_objective",
                &["learner_id", "objective_id", "occurred_at", "id"],
                false,
            ))
            .await?;
        manager
            .alter_table(Table::alter().table(Attempts::Table).add_column(boolean_null(Attempts::Completed)).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Attempts::Table).drop_column(Attempts::Completed).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("idx_attempts_learner_objective").table(Alias::new("attempts")).to_owned())
            .await?;
        for table in [
            Badges::Table.into_iden(),
            ObjectiveProgress::Table.into_iden(),
            CognitiveMetricRecords::Table.into_iden(),
            CognitiveMetrics::Table.into_iden(),
            Struggles::Table.into_iden(),
            Interests::Table.into_iden(),
            Preferences::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
