use sea_orm::entity::prelude::*;

/// The outcome of a learner's latest completed profiling session (one row per learner).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "profiling_outcomes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub learner_id: Uuid,
    pub session_id: Uuid,
    pub track_key: String,
    /// `[{track, percentage}]` over the five tracks.
    pub alignment: Json,
    /// `[{module, score}]` of the modules scored below the skill map's threshold.
    pub weak_modules: Json,
    pub completed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
