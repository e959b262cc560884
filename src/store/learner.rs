//! Erasing a learner: every row of every table, in the caller's transaction.

use entity::{
    attempt, event, exercise_stat, goal, goal_profile_version, learner, learner_progress, practice_day, session,
};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::error::ApiResult;

/// Every table that holds rows of a learner. `erase` empties each, and a test checks that
/// every table with a `learner_id` column is listed, so a new table cannot be forgotten.
pub const LEARNER_TABLES: &[&str] = &[
    "attempts",
    "practice_days",
    "exercise_stats",
    "learner_progress",
    "sessions",
    "events",
    "goal_profile_versions",
    "goals",
];

/// Deletes a learner and everything it owns. Explicit deletes (children first) rather than
/// relying on ON DELETE CASCADE alone, so erasure does not depend on a pragma being on.
pub async fn erase(txn: &DatabaseTransaction, id: Uuid) -> ApiResult<()> {
    attempt::Entity::delete_many().filter(attempt::Column::LearnerId.eq(id)).exec(txn).await?;
    practice_day::Entity::delete_many().filter(practice_day::Column::LearnerId.eq(id)).exec(txn).await?;
    exercise_stat::Entity::delete_many().filter(exercise_stat::Column::LearnerId.eq(id)).exec(txn).await?;
    learner_progress::Entity::delete_many().filter(learner_progress::Column::LearnerId.eq(id)).exec(txn).await?;
    session::Entity::delete_many().filter(session::Column::LearnerId.eq(id)).exec(txn).await?;
    event::Entity::delete_many().filter(event::Column::LearnerId.eq(id)).exec(txn).await?;
    goal_profile_version::Entity::delete_many()
        .filter(goal_profile_version::Column::LearnerId.eq(id))
        .exec(txn)
        .await?;
    goal::Entity::delete_many().filter(goal::Column::LearnerId.eq(id)).exec(txn).await?;
    learner::Entity::delete_by_id(id).exec(txn).await?;
    Ok(())
}
