//! Writes of learner details: one mutation per rule, and `syncLearnerProfile`, which sets the
//! whole detail profile in one transaction through the same store functions.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::{self, parts};
use super::details::{Badge, CognitiveMetric, ObjectiveProgress, ObjectiveStatus, Preference};
use super::learner::Learner;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::details::{self as rules, DetailProfile, ItemKind, NewBadge, ObjectiveUpdate, SyncMode};

/// A preference to set.
#[derive(InputObject)]
pub struct SetPreferenceInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=128 characters; one value per category.
    pub category: String,
    /// At most 10,000 characters.
    pub value: String,
}

/// The result of `setPreference`.
#[derive(SimpleObject)]
pub struct SetPreferencePayload {
    /// The preference as stored.
    pub preference: Preference,
    /// The learner after the change.
    pub learner: Learner,
}

/// A preference to remove.
#[derive(InputObject)]
pub struct RemovePreferenceInput {
    /// The learner.
    pub learner_id: ID,
    /// The category to remove.
    pub category: String,
}

/// An interest to add or remove.
#[derive(InputObject)]
pub struct InterestInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=500 characters, trimmed; unique per learner.
    pub name: String,
}

/// A struggle to add or remove.
#[derive(InputObject)]
pub struct StruggleInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=500 characters, trimmed; unique per learner.
    pub description: String,
}

/// The result of adding or removing a detail item.
#[derive(SimpleObject)]
pub struct DetailChangePayload {
    /// True when the call changed something (false: it was already there, or already gone).
    pub changed: bool,
    /// The learner after the call.
    pub learner: Learner,
}

/// Metrics of a diagnostic task to record.
#[derive(InputObject)]
pub struct RecordCognitiveMetricInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=128 characters; one current value per task.
    pub task_name: String,
    /// Free-form JSON (e.g. `{"accuracy": 0.8, "attempts": 1}`), at most the configured size.
    pub metrics: Json<serde_json::Value>,
}

/// The result of `recordCognitiveMetric`.
#[derive(SimpleObject)]
pub struct RecordCognitiveMetricPayload {
    /// The task's metrics as now stored.
    pub metric: CognitiveMetric,
}

/// Progress on an objective to record.
#[derive(InputObject)]
pub struct UpdateObjectiveProgressInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=128 characters; one row per objective.
    pub objective_id: String,
    /// The new status.
    pub status: ObjectiveStatus,
    /// 0..=1; left out, the stored score stays.
    pub score: Option<f64>,
    /// Free-form JSON; left out, the stored details stay.
    pub details: Option<Json<serde_json::Value>>,
}

/// The result of `updateObjectiveProgress`.
#[derive(SimpleObject)]
pub struct UpdateObjectiveProgressPayload {
    /// The objective as now stored.
    pub objective: ObjectiveProgress,
}

/// A badge to award.
#[derive(InputObject)]
pub struct AwardBadgeInput {
    /// The learner.
    pub learner_id: ID,
    /// 1..=128 characters; a learner holds each badge once.
    pub badge_id: String,
    /// 1..=200 characters.
    pub name: String,
    /// Free-form JSON, at most the configured size.
    pub details: Option<Json<serde_json::Value>>,
    /// When it was earned (default now; at most 5 minutes in the future).
    pub earned_at: Option<DateTime<Utc>>,
}

/// The result of `awardBadge`.
#[derive(SimpleObject)]
pub struct AwardBadgePayload {
    /// The badge as stored (the first award's, when it was awarded before).
    pub badge: Badge,
    /// True for the one call that awarded it.
    pub newly_awarded: bool,
}

/// How `syncLearnerProfile` treats what is not listed.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SyncProfileMode {
    /// Set what is listed; keep the rest.
    Merge,
    /// The detail profile becomes exactly what is listed: an item not listed is removed, and a
    /// list left out counts as empty.
    Replace,
}

/// A preference in a profile sync.
#[derive(InputObject)]
pub struct PreferenceEntry {
    /// 1..=128 characters.
    pub category: String,
    /// At most 10,000 characters.
    pub value: String,
}

/// A cognitive metric in a profile sync.
#[derive(InputObject)]
pub struct CognitiveMetricEntry {
    /// 1..=128 characters.
    pub task_name: String,
    /// Free-form JSON; a value equal to the stored one is not a new record.
    pub metrics: Json<serde_json::Value>,
}

/// An objective in a profile sync.
#[derive(InputObject)]
pub struct ObjectiveEntry {
    /// 1..=128 characters.
    pub objective_id: String,
    /// Its status.
    pub status: ObjectiveStatus,
    /// 0..=1.
    pub score: Option<f64>,
    /// Free-form JSON.
    pub details: Option<Json<serde_json::Value>>,
}

/// A badge in a profile sync.
#[derive(InputObject)]
pub struct BadgeEntry {
    /// 1..=128 characters.
    pub badge_id: String,
    /// 1..=200 characters.
    pub name: String,
    /// Free-form JSON.
    pub details: Option<Json<serde_json::Value>>,
    /// When it was earned (default now).
    pub earned_at: Option<DateTime<Utc>>,
}

/// The whole detail profile of a learner (the old `save()`). Each list holds at most 100 items.
#[derive(InputObject)]
pub struct SyncLearnerProfileInput {
    /// The learner.
    pub learner_id: ID,
    /// MERGE (default) keeps what is not listed; REPLACE removes it.
    pub mode: Option<SyncProfileMode>,
    /// Preferences to set.
    pub preferences: Option<Vec<PreferenceEntry>>,
    /// Interests to add.
    pub interests: Option<Vec<String>>,
    /// Struggles to add.
    pub struggles: Option<Vec<String>>,
    /// Cognitive metrics to record.
    pub cognitive_metrics: Option<Vec<CognitiveMetricEntry>>,
    /// Objectives to update.
    pub objectives: Option<Vec<ObjectiveEntry>>,
    /// Badges to award (a badge already held keeps its first award).
    pub badges: Option<Vec<BadgeEntry>>,
}

/// The result of `syncLearnerProfile`.
#[derive(SimpleObject)]
pub struct SyncLearnerProfilePayload {
    /// The learner after the sync.
    pub learner: Learner,
}

fn json(field: &str, value: Option<Json<serde_json::Value>>, max: usize) -> ApiResult<Option<serde_json::Value>> {
    let value = value.map(|Json(v)| v);
    if let Some(v) = &value {
        validate::json_size(field, v, max)?;
    }
    Ok(value)
}

fn objective(field: &str, e: ObjectiveEntry, max_json: usize) -> ApiResult<ObjectiveUpdate> {
    Ok(ObjectiveUpdate {
        objective_id: rules::key(&format!("{field}.objectiveId"), &e.objective_id)?,
        status: e.status.into(),
        score: rules::score(&format!("{field}.score"), e.score)?,
        details: json(&format!("{field}.details"), e.details, max_json)?,
    })
}

fn badge(field: &str, e: BadgeEntry, max_json: usize, now: DateTime<Utc>) -> ApiResult<NewBadge> {
    Ok(NewBadge {
        badge_id: rules::key(&format!("{field}.badgeId"), &e.badge_id)?,
        name: validate::key(&format!("{field}.name"), &e.name, validate::MAX_NAME_CHARS)?,
        details: json(&format!("{field}.details"), e.details, max_json)?,
        earned_at: e
            .earned_at
            .map(|at| validate::occurred_at_field(&format!("{field}.earnedAt"), Some(at), now))
            .transpose()?,
    })
}

/// Each list of a sync, validated item by item (`field[i]` in errors), at most `MAX_PER_KIND`.
fn each<T, U>(field: &str, items: Option<Vec<T>>, f: impl Fn(&str, T) -> ApiResult<U>) -> ApiResult<Vec<U>> {
    let items = items.unwrap_or_default();
    if items.len() > rules::MAX_PER_KIND {
        return Err(ApiError::bad_input(field, format!("at most {} items", rules::MAX_PER_KIND)));
    }
    items.into_iter().enumerate().map(|(i, item)| f(&format!("{field}[{i}]"), item)).collect()
}

impl SyncLearnerProfileInput {
    fn parse(self, max_json: usize, now: DateTime<Utc>) -> ApiResult<(ID, DetailProfile, SyncMode)> {
        let profile = DetailProfile {
            preferences: each("preferences", self.preferences, |f, p| {
                Ok((
                    rules::key(&format!("{f}.category"), &p.category)?,
                    validate::text(&format!("{f}.value"), &p.value, validate::MAX_TEXT_CHARS)?,
                ))
            })?,
            interests: each("interests", self.interests, |f, i| rules::item(f, &i))?,
            struggles: each("struggles", self.struggles, |f, s| rules::item(f, &s))?,
            cognitive_metrics: each("cognitiveMetrics", self.cognitive_metrics, |f, m| {
                let Json(metrics) = m.metrics;
                validate::json_size(&format!("{f}.metrics"), &metrics, max_json)?;
                Ok((rules::key(&format!("{f}.taskName"), &m.task_name)?, metrics))
            })?,
            objectives: each("objectives", self.objectives, |f, o| objective(f, o, max_json))?,
            badges: each("badges", self.badges, |f, b| badge(f, b, max_json, now))?,
        };
        let mode = match self.mode.unwrap_or(SyncProfileMode::Merge) {
            SyncProfileMode::Merge => SyncMode::Merge,
            SyncProfileMode::Replace => SyncMode::Replace,
        };
        Ok((self.learner_id, profile, mode))
    }
}

#[derive(Default)]
pub struct DetailsMutation;

#[Object]
impl DetailsMutation {
    /// Sets a learner's value for a preference category; setting it again replaces the value.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn set_preference(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the category and its value.")] input: SetPreferenceInput,
    ) -> ApiResult<SetPreferencePayload> {
        let category = rules::key("category", &input.category)?;
        let value = validate::text("value", &input.value, validate::MAX_TEXT_CHARS)?;
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let stored = store::details::set_preference(&txn, &scope, category, value, now).await?;
        txn.commit().await?;
        Ok(SetPreferencePayload { preference: Preference(stored), learner: Learner::new(scope) })
    }

    /// Removes a preference; removing a missing one is not an error.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn remove_preference(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the category to remove.")] input: RemovePreferenceInput,
    ) -> ApiResult<DetailChangePayload> {
        let category = validate::lookup("category", input.category)?;
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let changed = store::details::remove_preference(&txn, &scope, &category).await?;
        txn.commit().await?;
        Ok(DetailChangePayload { changed, learner: Learner::new(scope) })
    }

    /// Adds an interest; adding one twice changes nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn add_interest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the interest.")] input: InterestInput,
    ) -> ApiResult<DetailChangePayload> {
        add(ctx, &input.learner_id, ItemKind::Interest, rules::item("name", &input.name)?).await
    }

    /// Removes an interest; removing a missing one changes nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn remove_interest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the interest.")] input: InterestInput,
    ) -> ApiResult<DetailChangePayload> {
        remove(ctx, &input.learner_id, ItemKind::Interest, rules::item("name", &input.name)?).await
    }

    /// Adds something the learner struggles with; adding one twice changes nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn add_struggle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and what it struggles with.")] input: StruggleInput,
    ) -> ApiResult<DetailChangePayload> {
        add(ctx, &input.learner_id, ItemKind::Struggle, rules::item("description", &input.description)?).await
    }

    /// Removes a struggle; removing a missing one changes nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn remove_struggle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the struggle.")] input: StruggleInput,
    ) -> ApiResult<DetailChangePayload> {
        remove(ctx, &input.learner_id, ItemKind::Struggle, rules::item("description", &input.description)?).await
    }

    /// Records a diagnostic task's metrics: they become the task's current metrics, and the record
    /// is kept in its history.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn record_cognitive_metric(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the diagnostic task and its metrics.")] input: RecordCognitiveMetricInput,
    ) -> ApiResult<RecordCognitiveMetricPayload> {
        let state = parts(ctx)?.0;
        let task = rules::key("taskName", &input.task_name)?;
        let Json(metrics) = input.metrics;
        validate::json_size("metrics", &metrics, state.config.max_json_bytes)?;
        let now = state.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let stored = store::details::record_metric(&txn, &scope, task, metrics, now).await?;
        txn.commit().await?;
        Ok(RecordCognitiveMetricPayload { metric: CognitiveMetric::new(scope, stored) })
    }

    /// Records progress on a learning objective. `startedAt` is set the first time the status
    /// leaves NOT_STARTED and never moves; `completedAt` is set when it becomes COMPLETED and
    /// cleared if it goes back.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_objective_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the objective and its new status.")] input: UpdateObjectiveProgressInput,
    ) -> ApiResult<UpdateObjectiveProgressPayload> {
        let state = parts(ctx)?.0;
        let entry = ObjectiveEntry {
            objective_id: input.objective_id,
            status: input.status,
            score: input.score,
            details: input.details,
        };
        let update = objective("", entry, state.config.max_json_bytes).map_err(unprefix)?;
        let now = state.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let stored = store::details::update_objective(&txn, &scope, update, now).await?;
        txn.commit().await?;
        Ok(UpdateObjectiveProgressPayload { objective: ObjectiveProgress::new(scope, stored) })
    }

    /// Awards a badge once: awarding it again returns the stored badge with `newlyAwarded: false`.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn award_badge(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the badge.")] input: AwardBadgeInput,
    ) -> ApiResult<AwardBadgePayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let entry = BadgeEntry {
            badge_id: input.badge_id,
            name: input.name,
            details: input.details,
            earned_at: input.earned_at,
        };
        let new = badge("", entry, state.config.max_json_bytes, now).map_err(unprefix)?;
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let (stored, newly_awarded) = store::details::award_badge(&txn, &scope, new, now).await?;
        txn.commit().await?;
        Ok(AwardBadgePayload { badge: Badge(stored), newly_awarded })
    }

    /// Sets the whole detail profile in one transaction: either all of it is stored or nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn sync_learner_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner, the whole detail profile and how to apply it.")] input: SyncLearnerProfileInput,
    ) -> ApiResult<SyncLearnerProfilePayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let (learner_id, profile, mode) = input.parse(state.config.max_json_bytes, now)?;
        let (txn, scope) = access::write_learner(ctx, "learnerId", &learner_id).await?;
        store::details::sync(&txn, &scope, profile, mode, now).await?;
        txn.commit().await?;
        Ok(SyncLearnerProfilePayload { learner: Learner::new(scope) })
    }
}

/// Field names of a single mutation's input carry no list prefix (`.score` becomes `score`).
fn unprefix(e: ApiError) -> ApiError {
    match e {
        ApiError::BadInput { field, reason } => {
            ApiError::BadInput { field: field.trim_start_matches('.').to_owned(), reason }
        }
        other => other,
    }
}

async fn add(ctx: &Context<'_>, learner_id: &ID, kind: ItemKind, value: String) -> ApiResult<DetailChangePayload> {
    let now = parts(ctx)?.0.clock.now();
    let (txn, scope) = access::write_learner(ctx, "learnerId", learner_id).await?;
    let changed = store::details::add_item(&txn, &scope, kind, value, now).await?;
    txn.commit().await?;
    Ok(DetailChangePayload { changed, learner: Learner::new(scope) })
}

async fn remove(ctx: &Context<'_>, learner_id: &ID, kind: ItemKind, value: String) -> ApiResult<DetailChangePayload> {
    let (txn, scope) = access::write_learner(ctx, "learnerId", learner_id).await?;
    let changed = store::details::remove_item(&txn, &scope, kind, &value).await?;
    txn.commit().await?;
    Ok(DetailChangePayload { changed, learner: Learner::new(scope) })
}
