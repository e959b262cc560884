//! Opening and closing sessions.

use chrono::{DateTime, Utc};
use entity::session::{self, SessionKind};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::error::{ApiError, ApiResult};
use crate::graphql::access::LearnerScope;

/// Opens a session of `kind` at `started_at` (validated by the caller).
pub async fn start(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    kind: SessionKind,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ApiResult<session::Model> {
    Ok(session::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        kind: Set(kind),
        started_at: Set(started_at),
        ended_at: Set(None),
        total_exercises: Set(0),
        correct_answers: Set(0),
        created_at: Set(now),
    }
    .insert(txn)
    .await?)
}

/// Closes a session at `ended_at`. Conditional on the session still being open, so two concurrent
/// ends set one time; ending a closed session returns it unchanged.
pub async fn end(
    txn: &DatabaseTransaction,
    current: session::Model,
    ended_at: DateTime<Utc>,
) -> ApiResult<session::Model> {
    if current.ended_at.is_some() {
        return Ok(current);
    }
    if ended_at < current.started_at {
        return Err(ApiError::bad_input("endedAt", "is before the session started"));
    }
    session::Entity::update_many()
        .col_expr(session::Column::EndedAt, Expr::value(ended_at))
        .filter(session::Column::Id.eq(current.id))
        .filter(session::Column::EndedAt.is_null())
        .exec(txn)
        .await?;
    session::Entity::find_by_id(current.id).one(txn).await?.ok_or(ApiError::Internal)
}
