//! DataLoaders: one batched `IN (…)` query per relation, so lists do not query per row.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{goal, learner_progress};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::ApiError;

/// How long a loader waits to gather keys. The items of a list are resolved in one poll, so their
/// keys arrive within microseconds; async-graphql's default of 1 ms would add a millisecond to
/// every single-learner read for nothing.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_micros(250);

/// Goals by id (for `LearnerEvent.goal` and `Attempt.goal`). Callers reach a goal only through
/// a row of an already authorized learner.
pub struct GoalLoader(pub DatabaseConnection);

impl Loader<Uuid> for GoalLoader {
    type Value = goal::Model;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = goal::Entity::find().filter(goal::Column::Id.is_in(keys.iter().copied())).all(&self.0).await?;
        Ok(rows.into_iter().map(|g| (g.id, g)).collect())
    }
}

/// The goal a row points at, through the batched loader.
pub async fn goal(
    ctx: &async_graphql::Context<'_>,
    id: Option<Uuid>,
) -> crate::error::ApiResult<Option<super::goal::Goal>> {
    let Some(id) = id else { return Ok(None) };
    let loader = ctx.data::<async_graphql::dataloader::DataLoader<GoalLoader>>()?;
    Ok(loader.load_one(id).await?.map(super::goal::Goal))
}

/// Practice totals and streak summaries by learner id (for `streak` and `progress` on lists of
/// learners).
pub struct ProgressLoader(pub DatabaseConnection);

impl Loader<Uuid> for ProgressLoader {
    type Value = learner_progress::Model;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        tracing::debug!(keys = keys.len(), "loading progress rows");
        let rows = learner_progress::Entity::find()
            .filter(learner_progress::Column::LearnerId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.learner_id, p)).collect())
    }
}

/// A learner's progress row, through the batched loader (None before the first attempt).
pub async fn progress(
    ctx: &async_graphql::Context<'_>,
    learner_id: Uuid,
) -> crate::error::ApiResult<Option<learner_progress::Model>> {
    let loader = ctx.data::<async_graphql::dataloader::DataLoader<ProgressLoader>>()?;
    loader.load_one(learner_id).await
}
