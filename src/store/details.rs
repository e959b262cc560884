//! Learner details: preferences, interests, struggles, cognitive metrics, objective progress and
//! badges. Each write is an upsert or an insert-if-absent that is safe when writers race; the
//! single mutations and `syncLearnerProfile` go through the same functions.

use chrono::{DateTime, Utc};
use entity::objective_progress::ObjectiveStatus;
use entity::{badge, cognitive_metric, cognitive_metric_record, interest, objective_progress, preference, struggle};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set, TryInsertResult,
};

use super::idempotent::insert_unless_conflict;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{LearnerOwned, LearnerScope, of_learner};

/// Most items of each detail kind one learner may have (checked on write; lists stay bounded).
pub const MAX_PER_KIND: usize = 100;
/// Longest key (category, task name, objective id, badge id).
pub const MAX_KEY_CHARS: usize = 128;
/// Longest interest name or struggle description.
pub const MAX_ITEM_CHARS: usize = 500;

/// A detail key: 1..=128 characters, trimmed.
pub fn key(field: &str, value: &str) -> ApiResult<String> {
    validate::key(field, value, MAX_KEY_CHARS)
}

/// An interest or a struggle: 1..=500 characters, trimmed.
pub fn item(field: &str, value: &str) -> ApiResult<String> {
    validate::key(field, value, MAX_ITEM_CHARS)
}

/// A score: finite, within 0..=1.
pub fn score(field: &str, value: Option<f64>) -> ApiResult<Option<f64>> {
    match value {
        Some(s) if !s.is_finite() || !(0.0..=1.0).contains(&s) => {
            Err(ApiError::bad_input(field, "must be a number between 0 and 1"))
        }
        other => Ok(other),
    }
}

/// Refuses a new item when the learner already has the most of its kind. Under racing writers
/// on PostgreSQL the count can be passed by a few; lists are cut at the limit on read too.
pub async fn room_for<E>(txn: &DatabaseTransaction, learner: &LearnerScope, field: &str, what: &str) -> ApiResult<()>
where
    E: LearnerOwned,
    E::Model: Sync,
{
    let n = of_learner::<E>(learner).count(txn).await?;
    if n >= MAX_PER_KIND as u64 {
        return Err(ApiError::bad_input(field, format!("a learner has at most {MAX_PER_KIND} {what}")));
    }
    Ok(())
}

/// Sets the learner's value for a category (one per category); setting it again replaces the
/// value and moves `updated_at`.
pub async fn set_preference(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    category: String,
    value: String,
    now: DateTime<Utc>,
) -> ApiResult<preference::Model> {
    let exists = preference::Entity::find_by_id((learner.id(), category.clone())).one(txn).await?.is_some();
    if !exists {
        room_for::<preference::Entity>(txn, learner, "category", "preferences").await?;
    }
    let row = preference::ActiveModel {
        learner_id: Set(learner.id()),
        category: Set(category),
        value: Set(value),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(preference::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([preference::Column::LearnerId, preference::Column::Category])
                .update_columns([preference::Column::Value, preference::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?)
}

/// Removes a preference; true when there was one.
pub async fn remove_preference(txn: &DatabaseTransaction, learner: &LearnerScope, category: &str) -> ApiResult<bool> {
    let done = preference::Entity::delete_many()
        .filter(preference::Column::LearnerId.eq(learner.id()))
        .filter(preference::Column::Category.eq(category))
        .exec(txn)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Interests and struggles: a set of strings per learner, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Interest,
    Struggle,
}

/// Adds an interest or a struggle; adding one twice changes nothing. True when it was new.
pub async fn add_item(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    kind: ItemKind,
    value: String,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let inserted = match kind {
        ItemKind::Interest => {
            if interest::Entity::find_by_id((learner.id(), value.clone())).one(txn).await?.is_some() {
                return Ok(false);
            }
            room_for::<interest::Entity>(txn, learner, "name", "interests").await?;
            interest::Entity::insert(interest::ActiveModel {
                learner_id: Set(learner.id()),
                name: Set(value),
                created_at: Set(now),
            })
            .on_conflict_do_nothing_on([interest::Column::LearnerId, interest::Column::Name])
            .exec_without_returning(txn)
            .await?
        }
        ItemKind::Struggle => {
            if struggle::Entity::find_by_id((learner.id(), value.clone())).one(txn).await?.is_some() {
                return Ok(false);
            }
            room_for::<struggle::Entity>(txn, learner, "description", "struggles").await?;
            struggle::Entity::insert(struggle::ActiveModel {
                learner_id: Set(learner.id()),
                description: Set(value),
                created_at: Set(now),
            })
            .on_conflict_do_nothing_on([struggle::Column::LearnerId, struggle::Column::Description])
            .exec_without_returning(txn)
            .await?
        }
    };
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// Removes an interest or a struggle; removing a missing one changes nothing. True when it existed.
pub async fn remove_item(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    kind: ItemKind,
    value: &str,
) -> ApiResult<bool> {
    let done = match kind {
        ItemKind::Interest => {
            interest::Entity::delete_many()
                .filter(interest::Column::LearnerId.eq(learner.id()))
                .filter(interest::Column::Name.eq(value))
                .exec(txn)
                .await?
        }
        ItemKind::Struggle => {
            struggle::Entity::delete_many()
                .filter(struggle::Column::LearnerId.eq(learner.id()))
                .filter(struggle::Column::Description.eq(value))
                .exec(txn)
                .await?
        }
    };
    Ok(done.rows_affected > 0)
}

/// Records a diagnostic task's metrics: the task's row now holds them (and `recorded_at` moves),
/// and the record is kept in the task's history.
pub async fn record_metric(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    task_name: String,
    metrics: serde_json::Value,
    now: DateTime<Utc>,
) -> ApiResult<cognitive_metric::Model> {
    let exists = cognitive_metric::Entity::find_by_id((learner.id(), task_name.clone())).one(txn).await?.is_some();
    if !exists {
        room_for::<cognitive_metric::Entity>(txn, learner, "taskName", "cognitive metrics").await?;
    }
    cognitive_metric_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        task_name: Set(task_name.clone()),
        metrics: Set(metrics.clone()),
        recorded_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(cognitive_metric::Entity::insert(cognitive_metric::ActiveModel {
        learner_id: Set(learner.id()),
        task_name: Set(task_name),
        metrics: Set(metrics),
        recorded_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([cognitive_metric::Column::LearnerId, cognitive_metric::Column::TaskName])
            .update_columns([cognitive_metric::Column::Metrics, cognitive_metric::Column::RecordedAt])
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?)
}

/// A validated objective update.
pub struct ObjectiveUpdate {
    pub objective_id: String,
    pub status: ObjectiveStatus,
    /// Left out: the stored score stays.
    pub score: Option<f64>,
    /// Left out: the stored details stay.
    pub details: Option<serde_json::Value>,
}

/// Updates a learner's progress on an objective. `started_at` is set the first time the status
/// leaves NOT_STARTED and never moves after; `completed_at` is set when it becomes COMPLETED
/// (kept while it stays COMPLETED) and cleared if it goes back. Written as one upsert whose
/// conflict branch decides from the stored row, so racing updates cannot lose `started_at`.
pub async fn update_objective(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    update: ObjectiveUpdate,
    now: DateTime<Utc>,
) -> ApiResult<objective_progress::Model> {
    use objective_progress::Column as C;
    let exists =
        objective_progress::Entity::find_by_id((learner.id(), update.objective_id.clone())).one(txn).await?.is_some();
    if !exists {
        room_for::<objective_progress::Entity>(txn, learner, "objectiveId", "objectives").await?;
    }
    let started = update.status != ObjectiveStatus::NotStarted;
    let completed = update.status == ObjectiveStatus::Completed;
    let row = objective_progress::ActiveModel {
        learner_id: Set(learner.id()),
        objective_id: Set(update.objective_id),
        status: Set(update.status),
        score: Set(update.score),
        details: Set(update.details),
        started_at: Set(started.then_some(now)),
        completed_at: Set(completed.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let stored = |c: C| Expr::col((objective_progress::Entity, c));
    let new = |c: C| Expr::col((Alias::new("excluded"), c));
    let keep_or_new = |c: C| Expr::from(Func::coalesce([new(c), stored(c)]));
    let first_of = |c: C| Expr::from(Func::coalesce([stored(c), new(c)]));
    let on_conflict = OnConflict::columns([C::LearnerId, C::ObjectiveId])
        .value(C::Status, new(C::Status))
        .value(C::Score, keep_or_new(C::Score))
        .value(C::Details, keep_or_new(C::Details))
        // Once started, always started at the first time.
        .value(C::StartedAt, first_of(C::StartedAt))
        // Completed: keep the first completion; anything else: none.
        .value(
            C::CompletedAt,
            Expr::case(new(C::CompletedAt).is_null(), Expr::value(Option::<DateTime<Utc>>::None))
                .finally(first_of(C::CompletedAt)),
        )
        .value(C::UpdatedAt, new(C::UpdatedAt))
        .to_owned();
    Ok(objective_progress::Entity::insert(row).on_conflict(on_conflict).exec_with_returning(txn).await?)
}

/// A validated badge to award.
pub struct NewBadge {
    pub badge_id: String,
    pub name: String,
    pub details: Option<serde_json::Value>,
    pub earned_at: Option<DateTime<Utc>>,
}

/// Awards a badge once: awarding it again returns the stored badge and false. `ON CONFLICT DO
/// NOTHING` makes racing awards safe on both engines (PostgreSQL's losers wait for the winner).
pub async fn award_badge(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewBadge,
    now: DateTime<Utc>,
) -> ApiResult<(badge::Model, bool)> {
    if let Some(found) = badge::Entity::find_by_id((learner.id(), new.badge_id.clone())).one(txn).await? {
        return Ok((found, false));
    }
    room_for::<badge::Entity>(txn, learner, "badgeId", "badges").await?;
    let insert = badge::Entity::insert(badge::ActiveModel {
        learner_id: Set(learner.id()),
        badge_id: Set(new.badge_id.clone()),
        name: Set(new.name),
        details: Set(new.details),
        earned_at: Set(new.earned_at.unwrap_or(now)),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([badge::Column::LearnerId, badge::Column::BadgeId]);
    match insert_unless_conflict(txn, insert).await? {
        Some(b) => Ok((b, true)),
        None => {
            let found = badge::Entity::find_by_id((learner.id(), new.badge_id)).one(txn).await?;
            Ok((found.ok_or(ApiError::Internal)?, false))
        }
    }
}

/// The whole detail profile, as `syncLearnerProfile` sets it.
#[derive(Default)]
pub struct DetailProfile {
    pub preferences: Vec<(String, String)>,
    pub interests: Vec<String>,
    pub struggles: Vec<String>,
    pub cognitive_metrics: Vec<(String, serde_json::Value)>,
    pub objectives: Vec<ObjectiveUpdate>,
    pub badges: Vec<NewBadge>,
}

/// MERGE keeps what is not listed; REPLACE removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    Merge,
    Replace,
}

/// Sets the whole detail profile in the caller's transaction (the old `save()`): every item is
/// written through the same function as its single mutation, so the rules are the same; with
/// REPLACE, items not listed are removed first. The caller commits only if all of it succeeded.
pub async fn sync(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    profile: DetailProfile,
    mode: SyncMode,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if mode == SyncMode::Replace {
        let id = learner.id();
        preference::Entity::delete_many()
            .filter(preference::Column::LearnerId.eq(id))
            .filter(
                preference::Column::Category
                    .is_not_in(profile.preferences.iter().map(|p| p.0.clone()).collect::<Vec<_>>()),
            )
            .exec(txn)
            .await?;
        interest::Entity::delete_many()
            .filter(interest::Column::LearnerId.eq(id))
            .filter(interest::Column::Name.is_not_in(profile.interests.clone()))
            .exec(txn)
            .await?;
        struggle::Entity::delete_many()
            .filter(struggle::Column::LearnerId.eq(id))
            .filter(struggle::Column::Description.is_not_in(profile.struggles.clone()))
            .exec(txn)
            .await?;
        let tasks: Vec<String> = profile.cognitive_metrics.iter().map(|m| m.0.clone()).collect();
        cognitive_metric::Entity::delete_many()
            .filter(cognitive_metric::Column::LearnerId.eq(id))
            .filter(cognitive_metric::Column::TaskName.is_not_in(tasks.clone()))
            .exec(txn)
            .await?;
        cognitive_metric_record::Entity::delete_many()
            .filter(cognitive_metric_record::Column::LearnerId.eq(id))
            .filter(cognitive_metric_record::Column::TaskName.is_not_in(tasks))
            .exec(txn)
            .await?;
        objective_progress::Entity::delete_many()
            .filter(objective_progress::Column::LearnerId.eq(id))
            .filter(
                objective_progress::Column::ObjectiveId
                    .is_not_in(profile.objectives.iter().map(|o| o.objective_id.clone()).collect::<Vec<_>>()),
            )
            .exec(txn)
            .await?;
        badge::Entity::delete_many()
            .filter(badge::Column::LearnerId.eq(id))
            .filter(
                badge::Column::BadgeId.is_not_in(profile.badges.iter().map(|b| b.badge_id.clone()).collect::<Vec<_>>()),
            )
            .exec(txn)
            .await?;
    }
    for (category, value) in profile.preferences {
        set_preference(txn, learner, category, value, now).await?;
    }
    for name in profile.interests {
        add_item(txn, learner, ItemKind::Interest, name, now).await?;
    }
    for description in profile.struggles {
        add_item(txn, learner, ItemKind::Struggle, description, now).await?;
    }
    for (task, metrics) in profile.cognitive_metrics {
        // A metric whose value did not change is not a new record.
        let current = cognitive_metric::Entity::find_by_id((learner.id(), task.clone())).one(txn).await?;
        if current.is_none_or(|c| c.metrics != metrics) {
            record_metric(txn, learner, task, metrics, now).await?;
        }
    }
    for update in profile.objectives {
        update_objective(txn, learner, update, now).await?;
    }
    for badge in profile.badges {
        award_badge(txn, learner, badge, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_finite_fractions() {
        assert_eq!(score("score", Some(0.0)).unwrap(), Some(0.0));
        assert_eq!(score("score", Some(1.0)).unwrap(), Some(1.0));
        assert_eq!(score("score", None).unwrap(), None);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.01, 1.01] {
            assert!(score("score", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_items_are_trimmed_and_bounded() {
        assert_eq!(key("category", "  style ").unwrap(), "style");
        assert!(key("category", &"k".repeat(129)).is_err());
        assert!(item("name", &"i".repeat(500)).is_ok());
        assert!(item("name", &"i".repeat(501)).is_err());
        assert!(item("name", "").is_err());
    }
}
