use sea_orm::entity::prelude::*;

/// The latest metrics of one diagnostic task, one row per (learner, task).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "cognitive_metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_name: String,
    pub metrics: Json,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
