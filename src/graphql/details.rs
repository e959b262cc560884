//! Learner details: preferences, interests, struggles, cognitive metrics, objective progress and
//! badges (types and reads). Writes are in `details_write`.

use async_graphql::{Context, Enum, Json, Object};
use chrono::{DateTime, Utc};
use entity::{
    attempt, badge, cognitive_metric, cognitive_metric_record, interest, objective_progress, preference, struggle,
};

use super::access::LearnerScope;
use super::fast::{Leaf, Leaves, List, json, text, time, time_opt, value};
use super::loaders;
use super::practice::Attempt;
use crate::domain::validate;
use crate::error::ApiResult;
use crate::store::details::MAX_PER_KIND;

/// Where a learning objective stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::objective_progress::ObjectiveStatus")]
pub enum ObjectiveStatus {
    /// Known but not begun.
    NotStarted,
    /// Begun and not finished.
    InProgress,
    /// Finished.
    Completed,
}

/// A learner's value for one preference category.
pub struct Preference(pub preference::Model);

/// A learner's value for one preference category.
#[Object]
impl Preference {
    /// The category (e.g. `learning_style`), unique per learner.
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// The learner's value for it (e.g. `visual`).
    async fn value(&self) -> &str {
        &self.0.value
    }
    /// When the category was first set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the value was last set.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl Leaves for Preference {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.0;
        Some(match name {
            "category" => text(&r.category),
            "value" => text(&r.value),
            "createdAt" => time(&r.created_at),
            "updatedAt" => time(&r.updated_at),
            _ => return None,
        })
    }
}

/// The latest metrics of one diagnostic task, with the earlier records.
pub struct CognitiveMetric {
    scope: LearnerScope,
    row: cognitive_metric::Model,
}

impl CognitiveMetric {
    pub fn new(scope: LearnerScope, row: cognitive_metric::Model) -> Self {
        CognitiveMetric { scope, row }
    }
}

impl Leaves for CognitiveMetric {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "taskName" => text(&r.task_name),
            "metrics" => json(&r.metrics),
            "recordedAt" => time(&r.recorded_at),
            _ => return None,
        })
    }
}

/// One record of a diagnostic task.
pub struct CognitiveMetricRecord(entity::cognitive_metric_record::Model);

/// One record of a diagnostic task.
#[Object]
impl CognitiveMetricRecord {
    /// The metrics as recorded (free-form JSON, e.g. `{"accuracy": 0.8}`).
    async fn metrics(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metrics)
    }
    /// When they were recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

/// The latest metrics of one diagnostic task, with the earlier records.
#[Object]
impl CognitiveMetric {
    /// The diagnostic task (e.g. `working_memory`), unique per learner.
    async fn task_name(&self) -> &str {
        &self.row.task_name
    }
    /// The latest metrics recorded for the task (free-form JSON).
    async fn metrics(&self) -> Json<&serde_json::Value> {
        Json(&self.row.metrics)
    }
    /// When the latest metrics were recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.row.recorded_at
    }
    /// Every record of the task, newest first (the latest is the first), for the trend.
    #[graphql(complexity = "super::page::cost(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many records, 1..=100 (default 20).")] first: Option<i32>,
    ) -> ApiResult<Vec<CognitiveMetricRecord>> {
        let n = validate::page_size(first, super::page::DEFAULT_PAGE)?;
        let rows =
            loaders::children::<cognitive_metric_record::Entity>(ctx, &self.scope, self.row.task_name.clone(), n)
                .await?;
        Ok(rows.into_iter().map(CognitiveMetricRecord).collect())
    }
}

/// A learner's progress on one learning objective.
pub struct ObjectiveProgress {
    scope: LearnerScope,
    row: objective_progress::Model,
}

impl ObjectiveProgress {
    pub fn new(scope: LearnerScope, row: objective_progress::Model) -> Self {
        ObjectiveProgress { scope, row }
    }
}

impl Leaves for ObjectiveProgress {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "objectiveId" => text(&r.objective_id),
            "status" => value(&ObjectiveStatus::from(r.status)),
            "score" => value(&r.score),
            "details" => json(&r.details),
            "startedAt" => time_opt(&r.started_at),
            "completedAt" => time_opt(&r.completed_at),
            "updatedAt" => time(&r.updated_at),
            _ => return None,
        })
    }
}

/// A learner's progress on one learning objective.
#[Object]
impl ObjectiveProgress {
    /// The objective (the client's key), unique per learner.
    async fn objective_id(&self) -> &str {
        &self.row.objective_id
    }
    /// Where it stands.
    async fn status(&self) -> ObjectiveStatus {
        self.row.status.into()
    }
    /// A score in 0..1, if one was given.
    async fn score(&self) -> Option<f64> {
        self.row.score
    }
    /// Free-form JSON the client keeps with the objective.
    async fn details(&self) -> Option<Json<&serde_json::Value>> {
        self.row.details.as_ref().map(Json)
    }
    /// When the status first left NOT_STARTED; it never moves after.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.row.started_at
    }
    /// When the status became COMPLETED; null while it is not COMPLETED.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at
    }
    /// When the objective was last updated.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// The learner's attempts that name this objective (`objectiveId`), newest first.
    #[graphql(complexity = "super::page::cost(first, child_complexity)")]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many attempts, 1..=100 (default 20).")] first: Option<i32>,
    ) -> ApiResult<Vec<Attempt>> {
        let n = validate::page_size(first, super::page::DEFAULT_PAGE)?;
        let rows = loaders::children::<attempt::Entity>(ctx, &self.scope, self.row.objective_id.clone(), n).await?;
        Ok(rows.into_iter().map(|a| Attempt::new(self.scope.clone(), a)).collect())
    }
}

/// A badge a learner earned.
pub struct Badge(pub badge::Model);

impl Leaves for Badge {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.0;
        Some(match name {
            "badgeId" => text(&r.badge_id),
            "name" => text(&r.name),
            "details" => json(&r.details),
            "earnedAt" => time(&r.earned_at),
            _ => return None,
        })
    }
}

/// A badge a learner earned.
#[Object]
impl Badge {
    /// The badge (the client's key), unique per learner.
    async fn badge_id(&self) -> &str {
        &self.0.badge_id
    }
    /// Its name as shown to the learner.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Free-form JSON the client keeps with the badge.
    async fn details(&self) -> Option<Json<&serde_json::Value>> {
        self.0.details.as_ref().map(Json)
    }
    /// When the learner earned it.
    async fn earned_at(&self) -> DateTime<Utc> {
        self.0.earned_at
    }
}

/// The cost of a detail list: it holds at most `MAX_PER_KIND` items.
fn list_cost(child_complexity: usize) -> usize {
    MAX_PER_KIND * child_complexity.max(1) + 1
}

/// The detail fields of `Learner`. Each list holds at most 100 items (a limit checked on write)
/// and is loaded for a whole page of learners in one statement.
pub struct LearnerDetails(pub LearnerScope);

/// The detail fields of `Learner`. Each list holds at most 100 items (a limit checked on write)
/// and is loaded for a whole page of learners in one statement.
#[Object]
impl LearnerDetails {
    /// Preferences, by category.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn preferences(&self, ctx: &Context<'_>) -> ApiResult<List<Preference>> {
        let rows = loaders::all_of::<preference::Entity>(ctx, &self.0).await?;
        Ok(List(rows.into_iter().take(MAX_PER_KIND).map(Preference).collect()))
    }
    /// Interests, oldest first.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn interests(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        let rows = loaders::all_of::<interest::Entity>(ctx, &self.0).await?;
        Ok(rows.into_iter().take(MAX_PER_KIND).map(|i| i.name).collect())
    }
    /// Things the learner struggles with, oldest first.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn struggles(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        let rows = loaders::all_of::<struggle::Entity>(ctx, &self.0).await?;
        Ok(rows.into_iter().take(MAX_PER_KIND).map(|s| s.description).collect())
    }
    /// The latest metrics of each diagnostic task, by task name.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn cognitive_metrics(&self, ctx: &Context<'_>) -> ApiResult<List<CognitiveMetric>> {
        let rows = loaders::all_of::<cognitive_metric::Entity>(ctx, &self.0).await?;
        Ok(List(rows.into_iter().take(MAX_PER_KIND).map(|m| CognitiveMetric::new(self.0.clone(), m)).collect()))
    }
    /// Progress on learning objectives, in the order they were first recorded.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn objectives(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only objectives with this status.")] status: Option<ObjectiveStatus>,
    ) -> ApiResult<List<ObjectiveProgress>> {
        let rows = loaders::all_of::<objective_progress::Entity>(ctx, &self.0).await?;
        let status = status.map(entity::objective_progress::ObjectiveStatus::from);
        Ok(List(
            rows.into_iter()
                .filter(|o| status.is_none_or(|s| o.status == s))
                .take(MAX_PER_KIND)
                .map(|o| ObjectiveProgress::new(self.0.clone(), o))
                .collect(),
        ))
    }
    /// Badges, in the order they were earned.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn badges(&self, ctx: &Context<'_>) -> ApiResult<List<Badge>> {
        let rows = loaders::all_of::<badge::Entity>(ctx, &self.0).await?;
        Ok(List(rows.into_iter().take(MAX_PER_KIND).map(Badge).collect()))
    }
}
