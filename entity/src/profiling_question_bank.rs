use sea_orm::entity::prelude::*;

/// One published version of the profiling question bank (shared by all learners; immutable once
/// stored). The newest version is the one new sessions start on.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "profiling_question_banks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The bank as published (validated JSON).
    pub bank: Json,
    pub question_count: i32,
    /// Who published it (`shipped` for the bank stored at first start).
    pub published_by: String,
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
