use sea_orm::entity::prelude::*;

/// One answer to one exercise or activity.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub learner_id: Uuid,
    pub session_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub exercise_id: String,
    pub activity_type: Option<String>,
    pub objective_id: Option<String>,
    pub is_correct: bool,
    pub score: Option<f64>,
    pub user_answer: Option<String>,
    pub response_time_ms: Option<i32>,
    pub details: Option<Json>,
    pub occurred_at: DateTimeUtc,
    /// The learner's local calendar day of `occurred_at`, fixed when the attempt is recorded.
    pub local_date: Date,
    pub created_at: DateTimeUtc,
    pub idempotency_key: Option<String>,
    /// Whether the activity was finished (the old `activity_attempts.completed`); null when the
    /// client did not say.
    pub completed: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
