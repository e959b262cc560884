use sea_orm::entity::prelude::*;

/// The embedding dimension of a learner's journal: fixed by the first embedded entry.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "journal_corpora")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    pub dimension: i32,
    /// +1 on every change to the learner's embedded entries, in the same transaction: what a
    /// replica's cache of the vectors is checked against.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
