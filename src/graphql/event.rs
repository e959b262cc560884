//! The append-only interaction log.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, TimeDelta, Utc};
use entity::event;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::access::{self, parts};
use super::goal::{Goal, goal_of_learner};
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders;
use super::page;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult, is_unique_violation};

/// One interaction of a learner (kind + JSON payload), as logged by a client.
pub struct LearnerEvent(pub event::Model);

#[Object]
impl LearnerEvent {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Event, self.0.id)
    }
    /// What happened, in the client's own vocabulary (e.g. `quiz_started`).
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(self.0.payload.clone())
    }
    /// When it happened (client-supplied, default the time it was stored).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The goal the event is about, if any.
    async fn goal(&self, ctx: &Context<'_>) -> ApiResult<Option<Goal>> {
        loaders::goal(ctx, self.0.goal_id).await
    }
    async fn learner(&self, ctx: &Context<'_>) -> ApiResult<Learner> {
        access::owner(ctx, self.0.learner_id).await
    }
}

pub struct EventFilter {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub kind: Option<String>,
    pub goal_id: Option<ID>,
}

pub async fn events_of(
    ctx: &Context<'_>,
    learner_id: Uuid,
    f: EventFilter,
) -> ApiResult<Connection<String, LearnerEvent>> {
    let (state, _) = parts(ctx)?;
    let mut select = event::Entity::find().filter(event::Column::LearnerId.eq(learner_id));
    if let Some(kind) = f.kind {
        select = select.filter(event::Column::Kind.eq(validate::lookup("kind", kind)?));
    }
    if let Some(goal_id) = f.goal_id {
        select = select.filter(event::Column::GoalId.eq(ids::decode("goalId", &goal_id, Kind::Goal)?));
    }
    page::keyset(
        &state.db,
        select,
        (event::Column::OccurredAt, event::Column::Id),
        f.first,
        f.after,
        |e| (e.occurred_at, e.id),
        LearnerEvent,
    )
    .await
}

#[derive(InputObject)]
pub struct LogEventInput {
    pub learner_id: ID,
    /// The goal the event is about; must be one of the learner's goals.
    pub goal_id: Option<ID>,
    /// 1..=128 characters.
    pub kind: String,
    /// Free-form JSON (default `{}`), at most the configured size.
    pub payload: Option<Json<serde_json::Value>>,
    /// When it happened (default now); at most 5 minutes in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A retry with the same key for the same learner returns the first event and stores nothing.
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct LogEventPayload {
    pub event: LearnerEvent,
}

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
    /// Appends an event to a learner's log.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn log_event(&self, ctx: &Context<'_>, input: LogEventInput) -> ApiResult<LogEventPayload> {
        let (state, viewer) = parts(ctx)?;
        let kind = validate::key("kind", &input.kind, validate::MAX_KEY_CHARS)?;
        let payload = input.payload.map(|Json(p)| p).unwrap_or_else(|| serde_json::json!({}));
        validate::json_size("payload", &payload, state.config.max_json_bytes)?;
        let key =
            input.idempotency_key.map(|k| validate::key("idempotencyKey", &k, validate::MAX_KEY_CHARS)).transpose()?;
        let now = state.clock.now();
        let occurred_at = validate::occurred_at(input.occurred_at, now)?;

        let (txn, _turn) = state.begin_write().await?;
        let owner = access::learner_by_gid(&txn, viewer, "learnerId", &input.learner_id).await?;
        if let Some(key) = &key
            && let Some(first) = by_key(&txn, owner.id, key).await?
        {
            return Ok(LogEventPayload { event: LearnerEvent(first) });
        }
        let goal_id = match &input.goal_id {
            Some(g) => Some(goal_of_learner(&txn, owner.id, "goalId", g).await?),
            None => None,
        };
        let row = event::ActiveModel {
            id: Set(Uuid::now_v7()),
            learner_id: Set(owner.id),
            goal_id: Set(goal_id),
            kind: Set(kind),
            payload: Set(payload),
            occurred_at: Set(occurred_at),
            created_at: Set(now),
            idempotency_key: Set(key.clone()),
        };
        let stored = match event::Entity::insert(row).exec_with_returning(&txn).await {
            Ok(e) => e,
            // Another request with the same key committed first (PostgreSQL): return its event.
            Err(e) if is_unique_violation(&e) => {
                txn.rollback().await?;
                let key = key.ok_or(ApiError::Internal)?;
                let first = by_key(&state.db, owner.id, &key).await?.ok_or(ApiError::Internal)?;
                return Ok(LogEventPayload { event: LearnerEvent(first) });
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(days) = state.config.event_retention_days {
            let cutoff = now - TimeDelta::days(i64::from(days));
            event::Entity::delete_many()
                .filter(event::Column::LearnerId.eq(owner.id))
                .filter(event::Column::OccurredAt.lt(cutoff))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(LogEventPayload { event: LearnerEvent(stored) })
    }
}

async fn by_key<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    learner_id: Uuid,
    key: &str,
) -> ApiResult<Option<event::Model>> {
    Ok(event::Entity::find()
        .filter(event::Column::LearnerId.eq(learner_id))
        .filter(event::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}
