use sea_orm::entity::prelude::*;

/// One entry of a learner's append-only interaction log.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub goal_id: Option<Uuid>,
    pub kind: String,
    pub payload: Json,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// Unique per learner when present: a retried write returns the first event.
    pub idempotency_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
