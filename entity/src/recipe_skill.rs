use sea_orm::entity::prelude::*;

/// A skill code a recipe teaches (the index behind `recipes(skillCode)` and recommendations).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "recipe_skills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recipe_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub skill_code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
