use sea_orm::entity::prelude::*;

/// A message in a CHAT session, at its position in the session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "chat_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub session_id: Uuid,
    pub post_id: Uuid,
    /// 1, 2, 3, … within the session.
    pub position: i32,
    pub role: ChatRole,
    pub content: String,
    pub agent_persona: Option<String>,
    pub created_at: DateTimeUtc,
}

/// Who wrote a message. Stored as text; an unknown stored value is an error on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ChatRole {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "ASSISTANT")]
    Assistant,
    #[sea_orm(string_value = "SYSTEM")]
    System,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
