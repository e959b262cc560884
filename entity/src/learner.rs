use sea_orm::entity::prelude::*;

/// A learner, keyed by our UUID and by the client's own `external_id`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "learners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub external_id: String,
    pub display_name: Option<String>,
    /// externalId and displayName, case-folded by the server (Unicode-aware, the same on every
    /// engine) for the staff search.
    pub search_text: String,
    pub bio: Option<String>,
    /// IANA time zone name; streak days are counted in it.
    pub time_zone: String,
    /// `{ theme, preferredMeditationMinutes, preferredMentorCategory }`.
    pub settings: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
