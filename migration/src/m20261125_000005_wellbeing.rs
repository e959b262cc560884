//! The wellbeing companion: journal entries (with mood tags, an optional f32 embedding and
//! follow-ups), agent conversation state, chat messages in CHAT sessions, mentor selections and
//! meditation reflections. Rows that point at another row of the learner name the learner too
//! (composite foreign keys), as attempts do.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{index, learner_fk, same_learner};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JournalCorpora {
    Table,
    LearnerId,
    Dimension,
    Version,
}

#[derive(DeriveIden)]
enum JournalEntries {
    Table,
    Id,
    LearnerId,
    Content,
    MoodTags,
    Source,
    Embedding,
    CreatedAt,
    UpdatedAt,
    IdempotencyKey,
}

#[derive(DeriveIden)]
enum JournalMoodTags {
    Table,
    LearnerId,
    EntryId,
    Tag,
}

#[derive(DeriveIden)]
enum JournalFollowUps {
    Table,
    Id,
    LearnerId,
    EntryId,
    Question,
    Answer,
    SynthesizedEntryId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConversationStates {
    Table,
    LearnerId,
    SessionKey,
    State,
    LastAgent,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChatPosts {
    Table,
    Id,
    LearnerId,
    SessionId,
    IdempotencyKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ChatMessages {
    Table,
    Id,
    LearnerId,
    SessionId,
    PostId,
    Position,
    Role,
    Content,
    AgentPersona,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MentorSelections {
    Table,
    Id,
    LearnerId,
    SessionId,
    MentorId,
    ContextKeywords,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MeditationReflections {
    Table,
    Id,
    LearnerId,
    SessionId,
    DurationMinutes,
    Reflection,
    Insight,
    EmotionalState,
    JournalEntryId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JournalCorpora::Table)
                    .col(pk_uuid(JournalCorpora::LearnerId))
                    .col(integer(JournalCorpora::Dimension))
                    .col(big_integer(JournalCorpora::Version).default(0))
                    .foreign_key(&mut learner_fk(JournalCorpora::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JournalEntries::Table)
                    .col(pk_uuid(JournalEntries::Id))
                    .col(uuid(JournalEntries::LearnerId))
                    .col(text(JournalEntries::Content))
                    .col(json_binary(JournalEntries::MoodTags))
                    .col(string(JournalEntries::Source))
                    .col(blob_null(JournalEntries::Embedding))
                    .col(timestamp_with_time_zone(JournalEntries::CreatedAt))
                    .col(timestamp_with_time_zone(JournalEntries::UpdatedAt))
                    .col(string_null(JournalEntries::IdempotencyKey))
                    .foreign_key(&mut learner_fk(JournalEntries::Table))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("idx_journal_entries_learner_id", &["learner_id", "id"][..], true),
            ("idx_journal_entries_learner_created", &["learner_id", "created_at", "id"][..], false),
            ("idx_journal_entries_learner_idempotency", &["learner_id", "idempotency_key"][..], true),
        ] {
            manager.create_index(index(JournalEntries::Table, name, cols, unique)).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(JournalMoodTags::Table)
                    .col(uuid(JournalMoodTags::LearnerId))
                    .col(uuid(JournalMoodTags::EntryId))
                    .col(string(JournalMoodTags::Tag))
                    .primary_key(Index::create().col(JournalMoodTags::EntryId).col(JournalMoodTags::Tag))
                    .foreign_key(&mut same_learner(
                        JournalMoodTags::Table,
                        JournalMoodTags::EntryId,
                        JournalEntries::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(JournalMoodTags::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                JournalMoodTags::Table,
                "idx_journal_mood_tags_learner_tag",
                &["learner_id", "tag"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JournalFollowUps::Table)
                    .col(pk_uuid(JournalFollowUps::Id))
                    .col(uuid(JournalFollowUps::LearnerId))
                    .col(uuid(JournalFollowUps::EntryId))
                    .col(text(JournalFollowUps::Question))
                    .col(text(JournalFollowUps::Answer))
                    .col(uuid_null(JournalFollowUps::SynthesizedEntryId))
                    .col(timestamp_with_time_zone(JournalFollowUps::CreatedAt))
                    .foreign_key(&mut same_learner(
                        JournalFollowUps::Table,
                        JournalFollowUps::EntryId,
                        JournalEntries::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut same_learner(
                        JournalFollowUps::Table,
                        JournalFollowUps::SynthesizedEntryId,
                        JournalEntries::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut learner_fk(JournalFollowUps::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                JournalFollowUps::Table,
                "idx_journal_follow_ups_entry",
                &["learner_id", "entry_id", "created_at", "id"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                JournalFollowUps::Table,
                "idx_journal_follow_ups_synthesized",
                &["learner_id", "synthesized_entry_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConversationStates::Table)
                    .col(uuid(ConversationStates::LearnerId))
                    .col(string(ConversationStates::SessionKey))
                    .col(json_binary(ConversationStates::State))
                    .col(string_null(ConversationStates::LastAgent))
                    .col(integer(ConversationStates::Version))
                    .col(timestamp_with_time_zone(ConversationStates::CreatedAt))
                    .col(timestamp_with_time_zone(ConversationStates::UpdatedAt))
                    .primary_key(Index::create().col(ConversationStates::LearnerId).col(ConversationStates::SessionKey))
                    .foreign_key(&mut learner_fk(ConversationStates::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatPosts::Table)
                    .col(pk_uuid(ChatPosts::Id))
                    .col(uuid(ChatPosts::LearnerId))
                    .col(uuid(ChatPosts::SessionId))
                    .col(string_null(ChatPosts::IdempotencyKey))
                    .col(timestamp_with_time_zone(ChatPosts::CreatedAt))
                    .foreign_key(&mut same_learner(
                        ChatPosts::Table,
                        ChatPosts::SessionId,
                        Sessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(ChatPosts::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                ChatPosts::Table,
                "idx_chat_posts_learner_idempotency",
                &["learner_id", "idempotency_key"],
                true,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatMessages::Table)
                    .col(pk_uuid(ChatMessages::Id))
                    .col(uuid(ChatMessages::LearnerId))
                    .col(uuid(ChatMessages::SessionId))
                    .col(uuid(ChatMessages::PostId))
                    .col(integer(ChatMessages::Position))
                    .col(string(ChatMessages::Role))
                    .col(text(ChatMessages::Content))
                    .col(string_null(ChatMessages::AgentPersona))
                    .col(timestamp_with_time_zone(ChatMessages::CreatedAt))
                    .foreign_key(&mut same_learner(
                        ChatMessages::Table,
                        ChatMessages::SessionId,
                        Sessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(ChatMessages::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(ChatMessages::Table)
                            .from_col(ChatMessages::PostId)
                            .to_tbl(ChatPosts::Table)
                            .to_col(ChatPosts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                ChatMessages::Table,
                "idx_chat_messages_session_position",
                &["session_id", "position"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                ChatMessages::Table,
                "idx_chat_messages_learner_created",
                &["learner_id", "created_at"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MentorSelections::Table)
                    .col(pk_uuid(MentorSelections::Id))
                    .col(uuid(MentorSelections::LearnerId))
                    .col(uuid(MentorSelections::SessionId))
                    .col(string(MentorSelections::MentorId))
                    .col(text_null(MentorSelections::ContextKeywords))
                    .col(timestamp_with_time_zone(MentorSelections::CreatedAt))
                    .foreign_key(&mut same_learner(
                        MentorSelections::Table,
                        MentorSelections::SessionId,
                        Sessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut learner_fk(MentorSelections::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                MentorSelections::Table,
                "idx_mentor_selections_session",
                &["session_id", "created_at", "id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MeditationReflections::Table)
                    .col(pk_uuid(MeditationReflections::Id))
                    .col(uuid(MeditationReflections::LearnerId))
                    .col(uuid(MeditationReflections::SessionId))
                    .col(integer(MeditationReflections::DurationMinutes))
                    .col(text(MeditationReflections::Reflection))
                    .col(text_null(MeditationReflections::Insight))
                    .col(string_null(MeditationReflections::EmotionalState))
                    .col(uuid_null(MeditationReflections::JournalEntryId))
                    .col(timestamp_with_time_zone(MeditationReflections::CreatedAt))
                    .foreign_key(&mut same_learner(
                        MeditationReflections::Table,
                        MeditationReflections::SessionId,
                        Sessions::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut same_learner(
                        MeditationReflections::Table,
                        MeditationReflections::JournalEntryId,
                        JournalEntries::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .foreign_key(&mut learner_fk(MeditationReflections::Table))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("idx_meditation_reflections_session", &["session_id"][..], true),
            ("idx_meditation_reflections_learner_created", &["learner_id", "created_at", "id"][..], false),
        ] {
            manager.create_index(index(MeditationReflections::Table, name, cols, unique)).await?;
        }
        // Wellbeing counts read sessions by kind.
        manager
            .create_index(index(
                Sessions::Table,
                "idx_sessions_learner_kind_started",
                &["learner_id", "kind", "started_at"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_sessions_learner_kind_started").table(Sessions::Table).to_owned())
            .await?;
        for table in [
            MeditationReflections::Table.into_iden(),
            MentorSelections::Table.into_iden(),
            ChatMessages::Table.into_iden(),
            ChatPosts::Table.into_iden(),
            ConversationStates::Table.into_iden(),
            JournalFollowUps::Table.into_iden(),
            JournalMoodTags::Table.into_iden(),
            JournalEntries::Table.into_iden(),
            JournalCorpora::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
