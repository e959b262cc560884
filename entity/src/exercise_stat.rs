use sea_orm::entity::prelude::*;

/// Per-(learner, exercise) counters, so statistics are read without scanning attempts.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "exercise_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub exercise_id: String,
    pub attempts: i32,
    pub correct: i32,
    pub last_attempt_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
