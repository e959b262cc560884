use sea_orm::entity::prelude::*;

/// The last `activity.seq` given out for a learner. Taking the next one locks this row until the
/// transaction ends, so a learner's activities commit in `seq` order: a cursor never skips a row
/// that commits later with a smaller number.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activity_heads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
