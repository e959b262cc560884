//! Appending to the interaction log.

use chrono::{DateTime, TimeDelta, Utc};
use entity::{event, goal};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use super::idempotent::{self, Stored};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{self, LearnerScope};

/// A validated event to append.
pub struct NewEvent {
    pub kind: String,
    pub payload: serde_json::Value,
    pub goal_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    pub fn parse(
        kind: &str,
        payload: Option<serde_json::Value>,
        goal_id: Option<Uuid>,
        occurred_at: Option<DateTime<Utc>>,
        idempotency_key: Option<String>,
        max_json_bytes: usize,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let payload = payload.unwrap_or_else(|| serde_json::json!({}));
        validate::json_size("payload", &payload, max_json_bytes)?;
        Ok(NewEvent {
            kind: validate::key("kind", kind, validate::MAX_KEY_CHARS)?,
            payload,
            goal_id,
            occurred_at: validate::occurred_at(occurred_at, now)?,
            idempotency_key: idempotency_key
                .map(|k| validate::key("idempotencyKey", &k, validate::MAX_KEY_CHARS))
                .transpose()?,
        })
    }
}

/// Appends an event; with `retention_days`, the learner's events older than that are deleted in
/// the same transaction.
pub async fn log(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewEvent,
    retention_days: Option<u32>,
    now: DateTime<Utc>,
) -> ApiResult<Stored<event::Model>> {
    if let Some(g) = new.goal_id
        && access::owned_by::<goal::Entity, _>(txn, learner, g).await?.is_none()
    {
        return Err(ApiError::NotFound("goal".into()));
    }
    let row = event::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        goal_id: Set(new.goal_id),
        kind: Set(new.kind),
        payload: Set(new.payload),
        occurred_at: Set(new.occurred_at),
        created_at: Set(now),
        idempotency_key: Set(new.idempotency_key.clone()),
    };
    let stored = idempotent::insert_once(txn, learner.id(), new.idempotency_key.as_deref(), row).await?;
    if let (Stored::New(_), Some(days)) = (&stored, retention_days) {
        let cutoff = now - TimeDelta::days(i64::from(days));
        event::Entity::delete_many()
            .filter(event::Column::LearnerId.eq(learner.id()))
            .filter(event::Column::OccurredAt.lt(cutoff))
            .exec(txn)
            .await?;
    }
    Ok(stored)
}
