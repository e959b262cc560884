use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    LearnerId,
    Kind,
    StartedAt,
    EndedAt,
    TotalExercises,
    CorrectAnswers,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Id,
    LearnerId,
    SessionId,
    GoalId,
    ExerciseId,
    ActivityType,
    ObjectiveId,
    IsCorrect,
    Score,
    UserAnswer,
    ResponseTimeMs,
    Details,
    OccurredAt,
    LocalDate,
    CreatedAt,
    IdempotencyKey,
}

#[derive(DeriveIden)]
enum Goals {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PracticeDays {
    Table,
    LearnerId,
    Day,
    Attempts,
    Correct,
}

#[derive(DeriveIden)]
enum ExerciseStats {
    Table,
    LearnerId,
    ExerciseId,
    Attempts,
    Correct,
    LastAttemptAt,
}

#[derive(DeriveIden)]
enum LearnerProgress {
    Table,
    LearnerId,
    TotalAttempts,
    CorrectAttempts,
    LongestStreak,
    LastPracticeDate,
    CurrentRunStart,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::LearnerId))
                    .col(string(Sessions::Kind))
                    .col(timestamp_with_time_zone(Sessions::StartedAt))
                    .col(timestamp_with_time_zone_null(Sessions::EndedAt))
                    .col(integer(Sessions::TotalExercises))
                    .col(integer(Sessions::CorrectAnswers))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .foreign_key(&mut learner_fk(Sessions::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                Sessions::Table,
                "idx_sessions_learner_started",
                &["learner_id", "started_at", "id"],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(pk_uuid(Attempts::Id))
                    .col(uuid(Attempts::LearnerId))
                    .col(uuid_null(Attempts::SessionId))
                    .col(uuid_null(Attempts::GoalId))
                    .col(string(Attempts::ExerciseId))
                    .col(string_null(Attempts::ActivityType))
                    .col(string_null(Attempts::ObjectiveId))
                    .col(boolean(Attempts::IsCorrect))
                    .col(double_null(Attempts::Score))
                    .col(text_null(Attempts::UserAnswer))
                    .col(integer_null(Attempts::ResponseTimeMs))
                    .col(json_binary_null(Attempts::Details))
                    .col(timestamp_with_time_zone(Attempts::OccurredAt))
                    .col(date(Attempts::LocalDate))
                    .col(timestamp_with_time_zone(Attempts::CreatedAt))
                    .col(string_null(Attempts::IdempotencyKey))
                    .foreign_key(&mut learner_fk(Attempts::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(Attempts::Table)
                            .from_col(Attempts::SessionId)
                            .to_tbl(Sessions::Table)
                            .to_col(Sessions::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(Attempts::Table)
                            .from_col(Attempts::GoalId)
                            .to_tbl(Goals::Table)
                            .to_col(Goals::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("idx_attempts_learner_occurred", &["learner_id", "occurred_at", "id"][..], false),
            ("idx_attempts_session_occurred", &["session_id", "occurred_at", "id"][..], false),
            ("idx_attempts_learner_idempotency", &["learner_id", "idempotency_key"][..], true),
        ] {
            manager.create_index(index(Attempts::Table, name, cols, unique)).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PracticeDays::Table)
                    .col(uuid(PracticeDays::LearnerId))
                    .col(date(PracticeDays::Day))
                    .col(integer(PracticeDays::Attempts))
                    .col(integer(PracticeDays::Correct))
                    .primary_key(Index::create().col(PracticeDays::LearnerId).col(PracticeDays::Day))
                    .foreign_key(&mut learner_fk(PracticeDays::Table))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExerciseStats::Table)
                    .col(uuid(ExerciseStats::LearnerId))
                    .col(string(ExerciseStats::ExerciseId))
                    .col(integer(ExerciseStats::Attempts))
                    .col(integer(ExerciseStats::Correct))
                    .col(timestamp_with_time_zone(ExerciseStats::LastAttemptAt))
                    .primary_key(Index::create().col(ExerciseStats::LearnerId).col(ExerciseStats::ExerciseId))
                    .foreign_key(&mut learner_fk(ExerciseStats::Table))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LearnerProgress::Table)
                    .col(pk_uuid(LearnerProgress::LearnerId))
                    .col(big_integer(LearnerProgress::TotalAttempts))
                    .col(big_integer(LearnerProgress::CorrectAttempts))
                    .col(integer(LearnerProgress::LongestStreak))
                    .col(date_null(LearnerProgress::LastPracticeDate))
                    .col(date_null(LearnerProgress::CurrentRunStart))
                    .foreign_key(&mut learner_fk(LearnerProgress::Table))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LearnerProgress::Table.into_iden(),
            ExerciseStats::Table.into_iden(),
            PracticeDays::Table.into_iden(),
            Attempts::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
