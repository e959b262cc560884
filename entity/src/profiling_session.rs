use sea_orm::entity::prelude::*;

/// A learner's run through one version of the question bank.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "profiling_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    /// The bank version the session started on; it is scored against that version.
    pub bank_version: i32,
    pub status: ProfilingStatus,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    /// `domain::profiling::Telemetry` as JSON, written at completion.
    pub telemetry: Option<Json>,
}

/// Where a profiling session stands. At most one IN_PROGRESS session per learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ProfilingStatus {
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
