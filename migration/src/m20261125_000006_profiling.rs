//! Career profiling: versioned question banks (shared), profiling sessions with their responses,
//! answer idempotency keys and the outcome per learner, the learner's portfolio, and the shared
//! recipe catalog with one row per skill code. Two partial unique indexes hold the "one" rules in
//! the database itself: one IN_PROGRESS session and one VALUE_STATEMENT per learner.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk, same_learner};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProfilingQuestionBanks {
    Table,
    Version,
    Bank,
    QuestionCount,
    PublishedBy,
    PublishedAt,
}

#[derive(DeriveIden)]
enum ProfilingSessions {
    Table,
    Id,
    LearnerId,
    BankVersion,
    Status,
    StartedAt,
    CompletedAt,
    Telemetry,
}

#[derive(DeriveIden)]
enum ProfilingResponses {
    Table,
    SessionId,
    QuestionId,
    LearnerId,
    SelectedOption,
    ResponseTimeMs,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum ProfilingAnswerKeys {
    Table,
    LearnerId,
    IdempotencyKey,
    SessionId,
    QuestionId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProfilingOutcomes {
    Table,
    LearnerId,
    SessionId,
    TrackKey,
    Alignment,
    WeakModules,
    CompletedAt,
}

#[derive(DeriveIden)]
enum PortfolioItems {
    Table,
    Id,
    LearnerId,
    Kind,
    Title,
    Content,
    Url,
    ProfilingSessionId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Recipes {
    Table,
    Id,
    Slug,
    Title,
    Description,
    SkillCodes,
    UsageCount,
    AvgRating,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RecipeSkills {
    Table,
    RecipeId,
    SkillCode,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProfilingQuestionBanks::Table)
                    .col(integer(ProfilingQuestionBanks::Version).primary_key())
                    .col(json_binary(ProfilingQuestionBanks::Bank))
                    .col(integer(ProfilingQuestionBanks::QuestionCount))
                    .col(string(ProfilingQuestionBanks::PublishedBy))
                    .col(timestamp_with_time_zone(ProfilingQuestionBanks::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfilingSessions::Table)
                    .col(pk_uuid(ProfilingSessions::Id))
                    .col(uuid(ProfilingSessions::LearnerId))
                    .col(integer(ProfilingSessions::BankVersion))
                    .col(string(ProfilingSessions::Status))
                    .col(timestamp_with_time_zone(ProfilingSessions::StartedAt))
                    .col(timestamp_with_time_zone_null(ProfilingSessions::CompletedAt))
                    .col(json_binary_null(ProfilingSessions::Telemetry))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(ProfilingSessions::Table)
                            .from_col(ProfilingSessions::BankVersion)
                            .to_tbl(ProfilingQuestionBanks::Table)
                            .to_col(ProfilingQuestionBanks::Version),
                    )
                    .foreign_key(&mut learner_fk(ProfilingSessions::Table))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("idx_profiling_sessions_learner_id", &["learner_id", "id"][..], true),
            ("idx_profiling_sessions_learner_started", &["learner_id", "started_at", "id"][..], false),
        ] {
            manager.create_index(index(ProfilingSessions::Table, name, cols, unique)).await?;
        }
        let db = manager.get_connection();
        // Partial indexes: the same statement on SQLite and PostgreSQL.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_profiling_sessions_one_open ON profiling_sessions (learner_id) \
             WHERE status = 'IN_PROGRESS'",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfilingResponses::Table)
                    .col(uuid(ProfilingResponses::SessionId))
                    .col(string(ProfilingResponses::QuestionId))
                    .col(uuid(ProfilingResponses::LearnerId))
                    .col(string(ProfilingResponses::SelectedOption))
                    .col(integer(ProfilingResponses::ResponseTimeMs))
                    .col(timestamp_with_time_zone(ProfilingResponses::AnsweredAt))
                    .primary_key(Index::create().col(ProfilingResponses::SessionId).col(ProfilingResponses::QuestionId))
                    .foreign_key(&mut same_learner(
                        ProfilingResponses::Table,
                        ProfilingResponses::SessionId,
                        ProfilingSessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(ProfilingResponses::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                ProfilingResponses::Table,
                "idx_profiling_responses_learner_session",
                &["learner_id", "session_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfilingAnswerKeys::Table)
                    .col(uuid(ProfilingAnswerKeys::LearnerId))
                    .col(string(ProfilingAnswerKeys::IdempotencyKey))
                    .col(uuid(ProfilingAnswerKeys::SessionId))
                    .col(string(ProfilingAnswerKeys::QuestionId))
                    .col(timestamp_with_time_zone(ProfilingAnswerKeys::CreatedAt))
                    .primary_key(
                        Index::create().col(ProfilingAnswerKeys::LearnerId).col(ProfilingAnswerKeys::IdempotencyKey),
                    )
                    .foreign_key(&mut same_learner(
                        ProfilingAnswerKeys::Table,
                        ProfilingAnswerKeys::SessionId,
                        ProfilingSessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(ProfilingAnswerKeys::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfilingOutcomes::Table)
                    .col(pk_uuid(ProfilingOutcomes::LearnerId))
                    .col(uuid(ProfilingOutcomes::SessionId))
                    .col(string(ProfilingOutcomes::TrackKey))
                    .col(json_binary(ProfilingOutcomes::Alignment))
                    .col(json_binary(ProfilingOutcomes::WeakModules))
                    .col(timestamp_with_time_zone(ProfilingOutcomes::CompletedAt))
                    .foreign_key(&mut same_learner(
                        ProfilingOutcomes::Table,
                        ProfilingOutcomes::SessionId,
                        ProfilingSessions::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut learner_fk(ProfilingOutcomes::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PortfolioItems::Table)
                    .col(pk_uuid(PortfolioItems::Id))
                    .col(uuid(PortfolioItems::LearnerId))
                    .col(string(PortfolioItems::Kind))
                    .col(string(PortfolioItems::Title))
                    .col(text(PortfolioItems::Content))
                    .col(string_null(PortfolioItems::Url))
                    .col(uuid_null(PortfolioItems::ProfilingSessionId))
                    .col(timestamp_with_time_zone(PortfolioItems::CreatedAt))
                    .col(timestamp_with_time_zone(PortfolioItems::UpdatedAt))
                    .foreign_key(&mut same_learner(
                        PortfolioItems::Table,
                        PortfolioItems::ProfilingSessionId,
                        ProfilingSessions::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut learner_fk(PortfolioItems::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                PortfolioItems::Table,
                "idx_portfolio_items_learner_created",
                &["learner_id", "created_at", "id"],
                false,
            ))
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_portfolio_items_one_value_statement ON portfolio_items (learner_id) \
             WHERE kind = 'VALUE_STATEMENT'",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Recipes::Table)
                    .col(pk_uuid(Recipes::Id))
                    .col(string(Recipes::Slug).unique_key())
                    .col(string(Recipes::Title))
                    .col(text_null(Recipes::Description))
                    .col(json_binary(Recipes::SkillCodes))
                    .col(big_integer(Recipes::UsageCount))
                    .col(double(Recipes::AvgRating))
                    .col(boolean(Recipes::IsActive))
                    .col(timestamp_with_time_zone(Recipes::CreatedAt))
                    .col(timestamp_with_time_zone(Recipes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecipeSkills::Table)
                    .col(uuid(RecipeSkills::RecipeId))
                    .col(string(RecipeSkills::SkillCode))
                    .primary_key(Index::create().col(RecipeSkills::RecipeId).col(RecipeSkills::SkillCode))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(RecipeSkills::Table)
                            .from_col(RecipeSkills::RecipeId)
                            .to_tbl(Recipes::Table)
                            .to_col(Recipes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(RecipeSkills::Table, "idx_recipe_skills_code", &["skill_code", "recipe_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RecipeSkills::Table.into_iden(),
            Recipes::Table.into_iden(),
            PortfolioItems::Table.into_iden(),
            ProfilingOutcomes::Table.into_iden(),
            ProfilingAnswerKeys::Table.into_iden(),
            ProfilingResponses::Table.into_iden(),
            ProfilingSessions::Table.into_iden(),
            ProfilingQuestionBanks::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
