use sea_orm::entity::prelude::*;

/// A local calendar day on which a learner made at least one attempt, with that day's counters.
/// Unique per (learner, day), so concurrent attempts on one day cannot count it twice.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "practice_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub attempts: i32,
    pub correct: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
