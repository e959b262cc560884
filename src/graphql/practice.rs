//! Progress writes: sessions, attempts, reset.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{attempt, session};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::access::{self, parts};
use super::goal::goal_of_learner;
use super::ids::{self, Kind};
use super::learner::Learner;
use super::progress::{Attempt, Session, SessionKind, Streak, tz_of};
use crate::auth::Viewer;
use crate::domain::streak::local_date;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::store::practice;

#[derive(InputObject)]
pub struct StartSessionInput {
    pub learner_id: ID,
    pub kind: SessionKind,
    /// Default now; at most 5 minutes in the future.
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct SessionPayload {
    pub session: Session,
}

#[derive(InputObject)]
pub struct EndSessionInput {
    pub session_id: ID,
    /// Default now; not before the session started.
    pub ended_at: Option<DateTime<Utc>>,
}

/// One answer to one exercise.
#[derive(InputObject)]
pub struct RecordAttemptInput {
    pub learner_id: ID,
    /// 1..=128 characters.
    pub exercise_id: String,
    pub is_correct: bool,
    pub activity_type: Option<String>,
    pub objective_id: Option<String>,
    /// One of the learner's goals.
    pub goal_id: Option<ID>,
    /// One of the learner's sessions.
    pub session_id: Option<ID>,
    pub score: Option<f64>,
    /// At most 10,000 characters.
    pub user_answer: Option<String>,
    /// 0..=86,400,000.
    pub response_time_ms: Option<i32>,
    /// Free-form JSON, at most the configured size.
    pub details: Option<Json<serde_json::Value>>,
    /// When the learner answered (default now); at most 5 minutes in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A retry with the same key for the same learner returns the first attempt and changes nothing.
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct RecordAttemptPayload {
    pub attempt: Attempt,
    /// The learner's streak after this attempt.
    pub streak: Streak,
}

#[derive(InputObject)]
pub struct ResetProgressInput {
    pub learner_id: ID,
}

#[derive(SimpleObject)]
pub struct ResetProgressPayload {
    pub deleted_attempts: i64,
    /// PRACTICE sessions deleted (chat and meditation sessions are kept).
    pub deleted_sessions: i64,
    pub learner: Learner,
}

#[derive(Default)]
pub struct ProgressMutation;

#[Object]
impl ProgressMutation {
    /// Opens a session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn start_session(&self, ctx: &Context<'_>, input: StartSessionInput) -> ApiResult<SessionPayload> {
        let (state, viewer) = parts(ctx)?;
        let now = state.clock.now();
        let started_at = validate::occurred_at_field("startedAt", input.started_at, now)?;
        let (txn, _turn) = state.begin_write().await?;
        let owner = access::learner_by_gid(&txn, viewer, "learnerId", &input.learner_id).await?;
        let created = session::ActiveModel {
            id: Set(Uuid::now_v7()),
            learner_id: Set(owner.id),
            kind: Set(input.kind.as_str().to_owned()),
            started_at: Set(started_at),
            ended_at: Set(None),
            total_exercises: Set(0),
            correct_answers: Set(0),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(SessionPayload { session: Session(created) })
    }

    /// Closes a session. Ending it again changes nothing and returns the same session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn end_session(&self, ctx: &Context<'_>, input: EndSessionInput) -> ApiResult<SessionPayload> {
        let (state, viewer) = parts(ctx)?;
        let now = state.clock.now();
        let (txn, _turn) = state.begin_write().await?;
        let current = scoped_session(&txn, viewer, "sessionId", &input.session_id).await?;
        if current.ended_at.is_some() {
            return Ok(SessionPayload { session: Session(current) });
        }
        let ended_at = validate::occurred_at_field("endedAt", input.ended_at, now)?;
        if ended_at < current.started_at {
            return Err(ApiError::bad_input("endedAt", "is before the session started"));
        }
        // Conditional on still being open, so two concurrent ends set one time.
        session::Entity::update_many()
            .col_expr(session::Column::EndedAt, sea_orm::sea_query::Expr::value(ended_at))
            .filter(session::Column::Id.eq(current.id))
            .filter(session::Column::EndedAt.is_null())
            .exec(&txn)
            .await?;
        let ended = session::Entity::find_by_id(current.id).one(&txn).await?.ok_or(ApiError::Internal)?;
        txn.commit().await?;
        Ok(SessionPayload { session: Session(ended) })
    }

    /// Records one answer and returns the learner's streak after it.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn record_attempt(&self, ctx: &Context<'_>, input: RecordAttemptInput) -> ApiResult<RecordAttemptPayload> {
        let (state, viewer) = parts(ctx)?;
        let now = state.clock.now();
        let exercise_id = validate::key("exerciseId", &input.exercise_id, validate::MAX_KEY_CHARS)?;
        let activity_type = opt_key("activityType", input.activity_type)?;
        let objective_id = opt_key("objectiveId", input.objective_id)?;
        let key = opt_key("idempotencyKey", input.idempotency_key)?;
        let user_answer =
            input.user_answer.map(|a| validate::text("userAnswer", &a, validate::MAX_TEXT_CHARS)).transpose()?;
        if let Some(score) = input.score
            && !score.is_finite()
        {
            return Err(ApiError::bad_input("score", "must be a finite number"));
        }
        if let Some(ms) = input.response_time_ms
            && !(0..=86_400_000).contains(&ms)
        {
            return Err(ApiError::bad_input("responseTimeMs", "must be between 0 and 86400000"));
        }
        let details = input.details.map(|Json(d)| d);
        if let Some(d) = &details {
            validate::json_size("details", d, state.config.max_json_bytes)?;
        }
        let occurred_at = validate::occurred_at(input.occurred_at, now)?;

        let (txn, _turn) = state.begin_write().await?;
        let owner = access::learner_by_gid(&txn, viewer, "learnerId", &input.learner_id).await?;
        let tz = tz_of(&owner);
        let today = local_date(now, tz);
        if let Some(key) = &key
            && let Some(first) = attempt_by_key(&txn, owner.id, key).await?
        {
            let summary = practice::summary(&txn, owner.id).await?;
            return Ok(RecordAttemptPayload { attempt: Attempt(first), streak: Streak::at(summary, today) });
        }
        let stored_summary = practice::count_attempt(&txn, owner.id, input.is_correct).await?;
        let session_id = match &input.session_id {
            Some(s) => Some(session_of_learner(&txn, owner.id, s).await?),
            None => None,
        };
        let goal_id = match &input.goal_id {
            Some(g) => Some(goal_of_learner(&txn, owner.id, "goalId", g).await?),
            None => None,
        };
        let row = attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            learner_id: Set(owner.id),
            session_id: Set(session_id),
            goal_id: Set(goal_id),
            exercise_id: Set(exercise_id),
            activity_type: Set(activity_type),
            objective_id: Set(objective_id),
            is_correct: Set(input.is_correct),
            score: Set(input.score),
            user_answer: Set(user_answer),
            response_time_ms: Set(input.response_time_ms),
            details: Set(details),
            occurred_at: Set(occurred_at),
            local_date: Set(local_date(occurred_at, tz)),
            created_at: Set(now),
            idempotency_key: Set(key.clone()),
        };
        let stored = match attempt::Entity::insert(row).exec_with_returning(&txn).await {
            Ok(a) => a,
            // The same key committed first in another transaction (PostgreSQL): everything this
            // one counted is rolled back and the first attempt is returned.
            Err(e) if is_unique_violation(&e) => {
                txn.rollback().await?;
                let key = key.ok_or(ApiError::Internal)?;
                let first = attempt_by_key(&state.db, owner.id, &key).await?.ok_or(ApiError::Internal)?;
                let summary = practice::summary(&state.db, owner.id).await?;
                return Ok(RecordAttemptPayload { attempt: Attempt(first), streak: Streak::at(summary, today) });
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(s) = stored.session_id {
            practice::count_in_session(&txn, s, stored.is_correct).await?;
        }
        practice::count_exercise(&txn, &stored).await?;
        let summary = if practice::count_day(&txn, owner.id, stored.local_date, stored.is_correct).await? {
            practice::add_practice_day(&txn, owner.id, stored_summary, stored.local_date).await?
        } else {
            stored_summary
        };
        txn.commit().await?;
        Ok(RecordAttemptPayload { attempt: Attempt(stored), streak: Streak::at(summary, today) })
    }

    /// Deletes the learner's attempts, PRACTICE sessions and practice days and zeroes the streak,
    /// in one transaction. Goals, profiles, events, chat and meditation history are untouched.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn reset_progress(&self, ctx: &Context<'_>, input: ResetProgressInput) -> ApiResult<ResetProgressPayload> {
        let (state, viewer) = parts(ctx)?;
        let (txn, _turn) = state.begin_write().await?;
        let owner = access::learner_by_gid(&txn, viewer, "learnerId", &input.learner_id).await?;
        let counts = practice::reset(&txn, owner.id).await?;
        txn.commit().await?;
        tracing::info!(learner_id = %owner.id, attempts = counts.attempts, "progress reset");
        Ok(ResetProgressPayload {
            deleted_attempts: i64::try_from(counts.attempts).unwrap_or(i64::MAX),
            deleted_sessions: i64::try_from(counts.sessions).unwrap_or(i64::MAX),
            learner: Learner(owner),
        })
    }
}

fn opt_key(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value.map(|v| validate::key(field, &v, validate::MAX_KEY_CHARS)).transpose()
}

async fn attempt_by_key<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    learner_id: Uuid,
    key: &str,
) -> ApiResult<Option<attempt::Model>> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::LearnerId.eq(learner_id))
        .filter(attempt::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

async fn session_of_learner<C: ConnectionTrait>(db: &C, learner_id: Uuid, id: &ID) -> ApiResult<Uuid> {
    let uuid = ids::decode("sessionId", id, Kind::Session)?;
    let found = session::Entity::find_by_id(uuid).filter(session::Column::LearnerId.eq(learner_id)).one(db).await?;
    found.map(|s| s.id).ok_or_else(|| ApiError::NotFound("session".into()))
}

/// A session and its learner, if the viewer may reach them.
async fn scoped_session<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    field: &str,
    id: &ID,
) -> ApiResult<session::Model> {
    let uuid = ids::decode(field, id, Kind::Session)?;
    match session::Entity::find_by_id(uuid).one(db).await? {
        Some(s) => {
            access::learner(db, viewer, s.learner_id).await?;
            Ok(s)
        }
        None if viewer.is_privileged() => Err(ApiError::NotFound("session".into())),
        None => Err(viewer.authorize(None).err().unwrap_or(ApiError::Forbidden)),
    }
}
