use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{Learners, index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LearnersCols {
    ExternalId,
    DisplayName,
    SearchText,
    Bio,
    TimeZone,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Goals {
    Table,
    Id,
    LearnerId,
    ExternalId,
    Title,
    Status,
    Profile,
    ProfileVersion,
    ProfileUpdatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GoalProfileVersions {
    Table,
    Id,
    GoalId,
    LearnerId,
    Version,
    Profile,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    LearnerId,
    GoalId,
    Kind,
    Payload,
    OccurredAt,
    CreatedAt,
    IdempotencyKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Learners::Table)
                    .col(pk_uuid(Learners::Id))
                    .col(string_uniq(LearnersCols::ExternalId))
                    .col(string_null(LearnersCols::DisplayName))
                    .col(text(LearnersCols::SearchText))
                    .col(text_null(LearnersCols::Bio))
                    .col(string(LearnersCols::TimeZone))
                    .col(json_binary(LearnersCols::Settings))
                    .col(timestamp_with_time_zone(LearnersCols::CreatedAt))
                    .col(timestamp_with_time_zone(LearnersCols::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index(Learners::Table, "idx_learners_created", &["created_at", "id"], false)).await?;

        manager
            .create_table(
                Table::create()
                    .table(Goals::Table)
                    .col(pk_uuid(Goals::Id))
                    .col(uuid(Goals::LearnerId))
                    .col(string_null(Goals::ExternalId))
                    .col(string(Goals::Title))
                    .col(string(Goals::Status))
                    .col(json_binary(Goals::Profile))
                    .col(integer(Goals::ProfileVersion))
                    .col(timestamp_with_time_zone_null(Goals::ProfileUpdatedAt))
                    .col(timestamp_with_time_zone(Goals::CreatedAt))
                    .col(timestamp_with_time_zone(Goals::UpdatedAt))
                    .foreign_key(&mut learner_fk(Goals::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Goals::Table, "idx_goals_learner_external", &["learner_id", "external_id"], true))
            .await?;
        manager
            .create_index(index(Goals::Table, "idx_goals_learner_created", &["learner_id", "created_at"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GoalProfileVersions::Table)
                    .col(pk_uuid(GoalProfileVersions::Id))
                    .col(uuid(GoalProfileVersions::GoalId))
                    .col(uuid(GoalProfileVersions::LearnerId))
                    .col(integer(GoalProfileVersions::Version))
                    .col(json_binary(GoalProfileVersions::Profile))
                    .col(timestamp_with_time_zone(GoalProfileVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(GoalProfileVersions::Table)
                            .from_col(GoalProfileVersions::GoalId)
                            .to_tbl(Goals::Table)
                            .to_col(Goals::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut learner_fk(GoalProfileVersions::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                GoalProfileVersions::Table,
                "idx_goal_profile_versions_goal_version",
                &["goal_id", "version"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(pk_uuid(Events::Id))
                    .col(uuid(Events::LearnerId))
                    .col(uuid_null(Events::GoalId))
                    .col(string(Events::Kind))
                    .col(json_binary(Events::Payload))
                    .col(timestamp_with_time_zone(Events::OccurredAt))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .col(string_null(Events::IdempotencyKey))
                    .foreign_key(&mut learner_fk(Events::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(Events::Table)
                            .from_col(Events::GoalId)
                            .to_tbl(Goals::Table)
                            .to_col(Goals::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                Events::Table,
                "idx_events_learner_occurred",
                &["learner_id", "occurred_at", "id"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                Events::Table,
                "idx_events_learner_idempotency",
                &["learner_id", "idempotency_key"],
                true,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Events::Table.into_iden(),
            GoalProfileVersions::Table.into_iden(),
            Goals::Table.into_iden(),
            Learners::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
