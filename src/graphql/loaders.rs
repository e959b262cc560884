//! One batched loader per relation (see `batch`): one `IN (…)` query per relation per list, so
//! lists do not query per row. Every key carries the learner the row must belong to, and a row of
//! another learner is never returned: the scope a parent was read under is the scope of what it
//! points at. Relations that reach the same table from different lists (`Attempt.goal`,
//! `LearnerEvent.goal`) have loaders of their own, so the statements of a request do not depend
//! on which lists happened to finish together.

use std::collections::HashMap;
use std::marker::PhantomData;

use async_graphql::Context;
use entity::goal::GoalStatus;
use entity::{goal, learner_progress, session};
use sea_orm::prelude::Uuid;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait, QueryFilter,
    QueryOrder,
};

use super::access::{LearnerOwned, LearnerScope};
use super::batch::{BatchLoad, Batcher};
use crate::error::{ApiError, ApiResult};

/// Registers every loader on a schema under construction.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    db: &DatabaseConnection,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .data(Batcher::new(ById::<goal::Entity, AttemptGoal>::new(db)))
        .data(Batcher::new(ById::<goal::Entity, EventGoal>::new(db)))
        .data(Batcher::new(ById::<session::Entity, AttemptSession>::new(db)))
        .data(Batcher::new(GoalsOfLearner(db.clone())))
        .data(Batcher::new(Progress(db.clone())))
}

/// (learner, row id): a row that must belong to that learner.
pub type Owned = (Uuid, Uuid);

/// Relations, as loader tags.
pub enum AttemptGoal {}
pub enum EventGoal {}
pub enum AttemptSession {}

/// Rows of `E` by (learner, id), for the relation `R`.
pub struct ById<E, R>(DatabaseConnection, PhantomData<fn() -> (E, R)>);

impl<E, R> ById<E, R> {
    fn new(db: &DatabaseConnection) -> Self {
        ById(db.clone(), PhantomData)
    }
}

impl<E, R> BatchLoad for ById<E, R>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
    E::Model: Clone + Send + Sync,
    R: 'static,
{
    type Key = Owned;
    type Value = E::Model;

    #[tracing::instrument(skip_all, fields(table = E::default().table_name(), keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> ApiResult<HashMap<Owned, E::Model>> {
        let id = E::PrimaryKey::iter().next().map(PrimaryKeyToColumn::into_column).ok_or(ApiError::Internal)?;
        let rows = E::find().filter(id.is_in(keys.iter().map(|k| k.1))).all(&self.0).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let key = (E::owner(&row), uuid_of::<E>(&row)?);
                Some((key, row))
            })
            .collect())
    }
}

/// The id of a row whose primary key is one UUID.
fn uuid_of<E>(row: &E::Model) -> Option<Uuid>
where
    E: EntityTrait,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
{
    use sea_orm::ModelTrait;
    let col = E::PrimaryKey::iter().next()?.into_column();
    match row.get(col) {
        sea_orm::Value::Uuid(Some(u)) => Some(u),
        _ => None,
    }
}

/// (learner, optional status filter).
pub type GoalsKey = (Uuid, Option<GoalStatus>);

/// All goals of a learner (optionally of one status), oldest first, for `Learner.goals`.
pub struct GoalsOfLearner(DatabaseConnection);

impl BatchLoad for GoalsOfLearner {
    type Key = GoalsKey;
    type Value = Vec<goal::Model>;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[GoalsKey]) -> ApiResult<HashMap<GoalsKey, Vec<goal::Model>>> {
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

/// Practice totals and streak summaries by learner id, for `streak` and `progress`.
pub struct Progress(DatabaseConnection);

impl BatchLoad for Progress {
    type Key = Uuid;
    type Value = learner_progress::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> ApiResult<HashMap<Uuid, learner_progress::Model>> {
        let rows = learner_progress::Entity::find()
            .filter(learner_progress::Column::LearnerId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.learner_id, p)).collect())
    }
}

fn batcher<'a, L: BatchLoad>(ctx: &Context<'a>) -> ApiResult<&'a Batcher<L>> {
    Ok(ctx.data::<Batcher<L>>()?)
}

async fn owned<E, R>(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<E::Model>>
where
    ById<E, R>: BatchLoad<Key = Owned, Value = E::Model>,
    E: EntityTrait,
{
    let Some(id) = id else { return Ok(None) };
    batcher::<ById<E, R>>(ctx)?.load_one((scope.id(), id)).await
}

/// `Attempt.goal`.
pub async fn attempt_goal(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<goal::Model>> {
    owned::<goal::Entity, AttemptGoal>(ctx, scope, id).await
}

/// `LearnerEvent.goal`.
pub async fn event_goal(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<goal::Model>> {
    owned::<goal::Entity, EventGoal>(ctx, scope, id).await
}

/// `Attempt.session`.
pub async fn attempt_session(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    id: Option<Uuid>,
) -> ApiResult<Option<session::Model>> {
    owned::<session::Entity, AttemptSession>(ctx, scope, id).await
}

/// The goals of `scope`'s learner, oldest first.
pub async fn goals_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    status: Option<GoalStatus>,
) -> ApiResult<Vec<goal::Model>> {
    Ok(batcher::<GoalsOfLearner>(ctx)?.load_one((scope.id(), status)).await?.unwrap_or_default())
}

/// A learner's progress row (None before the first attempt).
pub async fn progress(ctx: &Context<'_>, scope: &LearnerScope) -> ApiResult<Option<learner_progress::Model>> {
    batcher::<Progress>(ctx)?.load_one(scope.id()).await
}
