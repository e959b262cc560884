use sea_orm::entity::prelude::*;

/// A badge a learner earned, unique per (learner, badge).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "badges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub badge_id: String,
    pub name: String,
    pub details: Option<Json>,
    pub earned_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
