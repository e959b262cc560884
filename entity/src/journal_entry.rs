use sea_orm::entity::prelude::*;

/// A journal entry of a learner.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "journal_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub content: String,
    /// The tags in the client's order (a JSON array of strings); `journal_mood_tags` indexes them.
    pub mood_tags: Json,
    pub source: JournalSource,
    /// The embedding as little-endian f32, scaled to unit length (cosine similarity is then a dot
    /// product). Exported as its numbers.
    #[serde(serialize_with = "crate::f32_le")]
    pub embedding: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub idempotency_key: Option<String>,
}

/// Where an entry came from. Stored as text; an unknown stored value is an error on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum JournalSource {
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    #[sea_orm(string_value = "MEDITATION")]
    Meditation,
    #[sea_orm(string_value = "SYNTHESIS")]
    Synthesis,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
