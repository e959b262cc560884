use sea_orm::entity::prelude::*;

/// A learner's practice totals and streak summary, kept current by every attempt so that reading
/// them costs the same whatever the number of attempts.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "learner_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    pub total_attempts: i64,
    pub correct_attempts: i64,
    pub longest_streak: i32,
    /// Latest practice day.
    pub last_practice_date: Option<Date>,
    /// First day of the run of consecutive practice days that ends on `last_practice_date`.
    pub current_run_start: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
