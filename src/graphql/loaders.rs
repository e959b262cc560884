//! DataLoaders: one batched `IN (…)` query per relation, so lists do not query per row. Every key
//! carries the learner the row must belong to, and a row of another learner is never returned:
//! the scope a parent was read under is the scope of what it points at.

use std::collections::HashMap;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};
use entity::goal::GoalStatus;
use entity::{goal, learner_progress, session};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::access::LearnerScope;
use crate::error::{ApiError, ApiResult};

/// How long a loader waits to gather keys. The items of a list are resolved in one poll, so their
/// keys arrive within microseconds; async-graphql's default of 1 ms would add a millisecond to
/// every single-learner read for nothing.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_micros(250);

/// Registers every loader on a schema under construction.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    db: &DatabaseConnection,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    fn loader<T: Loader<K>, K: Send + Sync + std::hash::Hash + Eq + Clone + 'static>(l: T) -> DataLoader<T> {
        DataLoader::new(l, tokio::spawn).delay(BATCH_WINDOW)
    }
    builder
        .data(loader(GoalLoader(db.clone())))
        .data(loader(GoalsOfLearnerLoader(db.clone())))
        .data(loader(SessionLoader(db.clone())))
        .data(loader(ProgressLoader(db.clone())))
}

/// (learner, row id): a row that must belong to that learner.
pub type Owned = (Uuid, Uuid);

fn owned_map<M>(rows: Vec<M>, key: impl Fn(&M) -> Owned) -> HashMap<Owned, M> {
    rows.into_iter().map(|r| (key(&r), r)).collect()
}

/// Goals by (learner, id), for `LearnerEvent.goal` and `Attempt.goal`.
pub struct GoalLoader(DatabaseConnection);

impl Loader<Owned> for GoalLoader {
    type Value = goal::Model;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> Result<HashMap<Owned, Self::Value>, Self::Error> {
        let rows = goal::Entity::find().filter(goal::Column::Id.is_in(keys.iter().map(|k| k.1))).all(&self.0).await?;
        Ok(owned_map(rows, |g| (g.learner_id, g.id)))
    }
}

/// Sessions by (learner, id), for `Attempt.session`.
pub struct SessionLoader(DatabaseConnection);

impl Loader<Owned> for SessionLoader {
    type Value = session::Model;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> Result<HashMap<Owned, Self::Value>, Self::Error> {
        let rows =
            session::Entity::find().filter(session::Column::Id.is_in(keys.iter().map(|k| k.1))).all(&self.0).await?;
        Ok(owned_map(rows, |s| (s.learner_id, s.id)))
    }
}

/// All goals of a learner (optionally of one status), oldest first, for `Learner.goals` on lists
/// of learners.
pub struct GoalsOfLearnerLoader(DatabaseConnection);

/// (learner, optional status filter).
pub type GoalsKey = (Uuid, Option<GoalStatus>);

impl Loader<GoalsKey> for GoalsOfLearnerLoader {
    type Value = Vec<goal::Model>;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[GoalsKey]) -> Result<HashMap<GoalsKey, Self::Value>, Self::Error> {
        let rows = goal::Entity::find()
            .filter(goal::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(goal::Column::CreatedAt)
            .order_by_asc(goal::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: HashMap<GoalsKey, Vec<goal::Model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for g in rows {
            for status in [None, Some(g.status)] {
                if let Some(list) = out.get_mut(&(g.learner_id, status)) {
                    list.push(g.clone());
                }
            }
        }
        Ok(out)
    }
}

/// Practice totals and streak summaries by learner id (for `streak` and `progress` on lists of
/// learners).
pub struct ProgressLoader(DatabaseConnection);

impl Loader<Uuid> for ProgressLoader {
    type Value = learner_progress::Model;
    type Error = ApiError;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = learner_progress::Entity::find()
            .filter(learner_progress::Column::LearnerId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.learner_id, p)).collect())
    }
}

fn get<'a, T: Send + Sync + 'static>(ctx: &Context<'a>) -> ApiResult<&'a T> {
    Ok(ctx.data::<T>()?)
}

/// The goal a row of `scope`'s learner points at.
pub async fn goal(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<goal::Model>> {
    let Some(id) = id else { return Ok(None) };
    get::<DataLoader<GoalLoader>>(ctx)?.load_one((scope.id(), id)).await
}

/// The session a row of `scope`'s learner points at.
pub async fn session(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<session::Model>> {
    let Some(id) = id else { return Ok(None) };
    get::<DataLoader<SessionLoader>>(ctx)?.load_one((scope.id(), id)).await
}

/// The goals of `scope`'s learner, oldest first.
pub async fn goals_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    status: Option<GoalStatus>,
) -> ApiResult<Vec<goal::Model>> {
    Ok(get::<DataLoader<GoalsOfLearnerLoader>>(ctx)?.load_one((scope.id(), status)).await?.unwrap_or_default())
}

/// A learner's progress row (None before the first attempt).
pub async fn progress(ctx: &Context<'_>, scope: &LearnerScope) -> ApiResult<Option<learner_progress::Model>> {
    get::<DataLoader<ProgressLoader>>(ctx)?.load_one(scope.id()).await
}
