use sea_orm::entity::prelude::*;

/// An item of a learner's career portfolio. Exactly one VALUE_STATEMENT per learner at most,
/// written by profiling.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "portfolio_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub kind: PortfolioKind,
    pub title: String,
    pub content: String,
    pub url: Option<String>,
    /// The profiling session a VALUE_STATEMENT was last written from.
    pub profiling_session_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// What a portfolio item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PortfolioKind {
    #[sea_orm(string_value = "VALUE_STATEMENT")]
    ValueStatement,
    #[sea_orm(string_value = "PROJECT")]
    Project,
    #[sea_orm(string_value = "CERTIFICATION")]
    Certification,
    #[sea_orm(string_value = "ACHIEVEMENT")]
    Achievement,
    #[sea_orm(string_value = "WRITING")]
    Writing,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
