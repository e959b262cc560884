use sea_orm::entity::prelude::*;

/// A reflection on a MEDITATION session (one per session).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "meditation_reflections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    #[sea_orm(unique)]
    pub session_id: Uuid,
    pub duration_minutes: i32,
    pub reflection: String,
    pub insight: Option<String>,
    pub emotional_state: Option<String>,
    pub journal_entry_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
