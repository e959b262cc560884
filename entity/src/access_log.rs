use sea_orm::entity::prelude::*;

/// One (request, learner) access by a staff or service token, or the record of an erasure.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The learner whose data was touched; null on an erasure record (the learner is gone).
    pub learner_id: Option<Uuid>,
    /// On an erasure record: SHA-256 of the erased learner's externalId, hex.
    pub subject_hash: Option<String>,
    pub at: DateTimeUtc,
    /// The token's `sub`, or `retention` for the retention sweep.
    pub actor: String,
    /// `staff`, `service`, or `system`.
    pub role: String,
    pub action: AccessAction,
    pub operation_name: Option<String>,
    /// The top-level fields of the request that touched the learner (a JSON array of strings).
    pub fields: Json,
}

/// What the access did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AccessAction {
    #[sea_orm(string_value = "READ")]
    Read,
    #[sea_orm(string_value = "WRITE")]
    Write,
    #[sea_orm(string_value = "ERASE")]
    Erase,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
