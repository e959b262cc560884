use sea_orm::entity::prelude::*;

/// One thing a learner did, in the order it committed: the feed live subscriptions deliver and
/// replay from. `seq` counts from 1 per learner with no gaps (see `activity_head`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub seq: i64,
    pub kind: ActivityKind,
    /// The row the activity is about (an attempt, an event, …); null for a streak or a reset.
    pub subject_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ActivityKind {
    #[sea_orm(string_value = "ATTEMPT")]
    Attempt,
    #[sea_orm(string_value = "STREAK")]
    Streak,
    #[sea_orm(string_value = "PROGRESS_RESET")]
    ProgressReset,
    #[sea_orm(string_value = "EVENT")]
    Event,
    #[sea_orm(string_value = "SESSION_STARTED")]
    SessionStarted,
    #[sea_orm(string_value = "SESSION_ENDED")]
    SessionEnded,
    #[sea_orm(string_value = "GOAL")]
    Goal,
    #[sea_orm(string_value = "JOURNAL_ENTRY")]
    JournalEntry,
    #[sea_orm(string_value = "CHAT_MESSAGE")]
    ChatMessage,
    #[sea_orm(string_value = "MEDITATION_REFLECTION")]
    MeditationReflection,
    #[sea_orm(string_value = "PROFILING_COMPLETED")]
    ProfilingCompleted,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
