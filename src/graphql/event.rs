//! The append-only interaction log.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::event;
use sea_orm::ColumnTrait;

use super::access::{self, LearnerScope, parts};
use super::goal::Goal;
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders::GoalOf;
use super::page;
use crate::domain::validate;
use crate::error::ApiResult;
use crate::store;
use crate::store::event::NewEvent;
use crate::store::idempotent::Stored;

/// One interaction of a learner (kind + JSON payload), as logged by a client.
pub struct LearnerEvent {
    scope: LearnerScope,
    row: event::Model,
}

impl LearnerEvent {
    pub fn new(scope: LearnerScope, row: event::Model) -> Self {
        LearnerEvent { scope, row }
    }
}

/// One interaction of a learner (kind + JSON payload), as logged by a client.
#[Object]
impl LearnerEvent {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::LearnerEvent, self.row.id)
    }
    /// What happened, in the client's own vocabulary (e.g. `quiz_started`).
    async fn kind(&self) -> &str {
        &self.row.kind
    }
    /// Free-form JSON the client logged with the event.
    async fn payload(&self) -> Json<&serde_json::Value> {
        Json(&self.row.payload)
    }
    /// When it happened (client-supplied, default the time it was stored).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The goal the event is about, if any.
    async fn goal(&self) -> Option<Goal> {
        self.row.goal_id.map(|id| Goal::by_id(self.scope.clone(), id, GoalOf::Event))
    }
    /// The learner who did it.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
}

/// The event fields of `Learner`.
pub struct LearnerEvents(pub LearnerScope);

/// The event fields of `Learner`.
#[Object]
impl LearnerEvents {
    /// The interaction log, newest first (by `occurredAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only events of this kind.")] kind: Option<String>,
        #[graphql(desc = "Only events about this goal.")] goal_id: Option<ID>,
    ) -> ApiResult<page::Connection<LearnerEvent>> {
        let mut filter = sea_orm::Condition::all();
        if let Some(kind) = kind {
            filter = filter.add(event::Column::Kind.eq(validate::lookup("kind", kind)?));
        }
        if let Some(goal_id) = goal_id {
            filter = filter.add(event::Column::GoalId.eq(ids::decode("goalId", &goal_id, Kind::Goal)?));
        }
        page::batched::<event::Entity, _>(ctx, &self.0, None, filter, first, after, |e| {
            LearnerEvent::new(self.0.clone(), e)
        })
        .await
    }
}

/// An event to append to a learner's log.
#[derive(InputObject)]
pub struct LogEventInput {
    /// The learner who did it.
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

/// The result of `logEvent`.
#[derive(SimpleObject)]
pub struct LogEventPayload {
    /// The stored event (the first one, for a retried `idempotencyKey`).
    pub event: LearnerEvent,
}

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
    /// Appends an event to a learner's log.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn log_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the event to append.")] input: LogEventInput,
    ) -> ApiResult<LogEventPayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let goal_id = input.goal_id.as_ref().map(|g| ids::decode("goalId", g, Kind::Goal)).transpose()?;
        let new = NewEvent::parse(
            &input.kind,
            input.payload.map(|Json(p)| p),
            goal_id,
            input.occurred_at,
            input.idempotency_key,
            state.config.max_json_bytes,
            now,
        )?;
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let stored = match store::event::log(&txn, &scope, new, state.config.event_retention_days, now).await? {
            Stored::New(e) => {
                txn.activity(scope.id(), ActivityKind::Event, Some(e.id));
                txn.commit().await?;
                e
            }
            Stored::Replayed(e) => e,
        };
        Ok(LogEventPayload { event: LearnerEvent::new(scope, stored) })
    }
}
