use sea_orm::entity::prelude::*;

/// A bounded period of activity of one kind (PRACTICE, CHAT, MEDITATION).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub kind: SessionKind,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    /// Number of attempts recorded in this session (kept by the same transaction as the attempt).
    pub total_exercises: i32,
    pub correct_answers: i32,
    pub created_at: DateTimeUtc,
}

/// What a session is for. Stored as text; an unknown stored value is an error on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SessionKind {
    #[sea_orm(string_value = "PRACTICE")]
    Practice,
    #[sea_orm(string_value = "CHAT")]
    Chat,
    #[sea_orm(string_value = "MEDITATION")]
    Meditation,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
