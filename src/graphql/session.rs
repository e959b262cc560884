//! Sessions: bounded periods of activity of one kind (practice, chat, meditation).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::session;
use sea_orm::ColumnTrait;
use sea_orm::prelude::Uuid;
use tokio::sync::OnceCell;

use super::access::{self, LearnerScope, parts};
use super::fast::{Leaf, Leaves, id, time, time_opt, value};
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders::SessionOf;
use super::page;
use super::practice::{Attempt, AttemptFilter, attempts_of, ratio};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;

/// What a session is for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::session::SessionKind")]
pub enum SessionKind {
    /// Exercises; its attempts count towards streaks and statistics.
    Practice,
    /// A conversation with a tutor or companion.
    Chat,
    /// A meditation.
    Meditation,
}

/// A bounded period of activity of one kind.
pub struct Session {
    scope: LearnerScope,
    id: Uuid,
    row: OnceCell<session::Model>,
    of: SessionOf,
}

impl Session {
    pub fn new(scope: LearnerScope, row: session::Model) -> Self {
        Session { scope, id: row.id, row: OnceCell::new_with(Some(row)), of: SessionOf::Attempt }
    }

    /// A session known only by its id (an attempt's, a message's or a reflection's, which the
    /// database keeps pointing at a session of the same learner): `id` and the lists under it cost
    /// no query of the session, any other field reads the row, batched with the request's other
    /// sessions.
    pub fn by_id(scope: LearnerScope, id: Uuid, of: SessionOf) -> Self {
        Session { scope, id, row: OnceCell::new(), of }
    }

    async fn row(&self, ctx: &Context<'_>) -> ApiResult<&session::Model> {
        self.row
            .get_or_try_init(|| async {
                super::loaders::session_row(ctx, &self.scope, self.id, self.of)
                    .await?
                    .ok_or(ApiError::NotFound("session".into()))
            })
            .await
    }
}

/// `correctAnswers / totalExercises`, for the resolver and the fast path alike.
fn accuracy(row: &session::Model) -> Option<f64> {
    ratio(i64::from(row.correct_answers), i64::from(row.total_exercises))
}

impl Leaves for Session {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        if name == "id" {
            return Some(id(Kind::Session, self.id));
        }
        // A session reached by id loads its row through its resolvers.
        let r = self.row.get()?;
        Some(match name {
            "kind" => value(&SessionKind::from(r.kind)),
            "startedAt" => time(&r.started_at),
            "endedAt" => time_opt(&r.ended_at),
            "totalExercises" => value(&r.total_exercises),
            "correctAnswers" => value(&r.correct_answers),
            "accuracy" => value(&accuracy(r)),
            _ => return None,
        })
    }
}

/// A bounded period of activity of one kind.
#[Object]
impl Session {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Session, self.id)
    }
    /// What the session is for.
    async fn kind(&self, ctx: &Context<'_>) -> ApiResult<SessionKind> {
        Ok(self.row(ctx).await?.kind.into())
    }
    /// When it started.
    async fn started_at(&self, ctx: &Context<'_>) -> ApiResult<DateTime<Utc>> {
        Ok(self.row(ctx).await?.started_at)
    }
    /// Null while the session is open.
    async fn ended_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        Ok(self.row(ctx).await?.ended_at)
    }
    /// Number of attempts recorded in this session.
    async fn total_exercises(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.row(ctx).await?.total_exercises)
    }
    /// Number of correct attempts recorded in this session.
    async fn correct_answers(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.row(ctx).await?.correct_answers)
    }
    /// `correctAnswers / totalExercises` in 0..1; null with no attempts.
    async fn accuracy(&self, ctx: &Context<'_>) -> ApiResult<Option<f64>> {
        let row = self.row(ctx).await?;
        Ok(accuracy(row))
    }
    /// The learner whose session it is.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
    /// Chat messages of a CHAT session, oldest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Only messages after this one (its id), for paging.")] after: Option<ID>,
    ) -> ApiResult<Vec<super::companion::ChatMessage>> {
        super::companion::messages_of(ctx, &self.scope, self.id, first, after).await
    }
    /// Mentors chosen in a CHAT session, oldest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn mentor_selections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 1..=100 (default 20).")] first: Option<i32>,
    ) -> ApiResult<Vec<super::companion::MentorSelection>> {
        super::companion::mentor_selections_of(ctx, &self.scope, self.id, first).await
    }
    /// The reflection on a MEDITATION session, once recorded.
    async fn reflection(&self, ctx: &Context<'_>) -> ApiResult<Option<super::meditation::MeditationReflection>> {
        let row = super::loaders::reflection_of(ctx, &self.scope, self.id).await?;
        Ok(row.map(|r| super::meditation::MeditationReflection::new(self.scope.clone(), r)))
    }
    /// The attempts of this session, newest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> ApiResult<page::Connection<Attempt>> {
        let filter = AttemptFilter { first, after, ..Default::default() };
        attempts_of(ctx, &self.scope, Some(self.id), filter).await
    }
}

/// The session fields of `Learner`.
pub struct LearnerSessions(pub LearnerScope);

/// The session fields of `Learner`.
#[Object]
impl LearnerSessions {
    /// Sessions of any kind, newest first (by `startedAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only sessions of this kind.")] kind: Option<SessionKind>,
    ) -> ApiResult<page::Connection<Session>> {
        sessions_of(ctx, &self.0, first, after, kind).await
    }
}

/// A page of a learner's sessions, newest first, optionally of one kind.
pub async fn sessions_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    first: Option<i32>,
    after: Option<String>,
    kind: Option<SessionKind>,
) -> ApiResult<page::Connection<Session>> {
    let mut filter = sea_orm::Condition::all();
    if let Some(kind) = kind {
        filter = filter.add(session::Column::Kind.eq(entity::session::SessionKind::from(kind)));
    }
    page::batched::<session::Entity, _>(ctx, scope, None, filter, first, after, |s| Session::new(scope.clone(), s))
        .await
}

/// A session to open.
#[derive(InputObject)]
pub struct StartSessionInput {
    /// The learner whose session it is.
    pub learner_id: ID,
    /// What the session is for.
    pub kind: SessionKind,
    /// Default now; at most 5 minutes in the future.
    pub started_at: Option<DateTime<Utc>>,
}

/// A session after a change.
#[derive(SimpleObject)]
pub struct SessionPayload {
    /// The session as stored.
    pub session: Session,
}

/// A session to close.
#[derive(InputObject)]
pub struct EndSessionInput {
    /// The session to close.
    pub session_id: ID,
    /// Default now; not before the session started.
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Opens a session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn start_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the kind of session.")] input: StartSessionInput,
    ) -> ApiResult<SessionPayload> {
        let now = parts(ctx)?.0.clock.now();
        let started_at = validate::occurred_at_field("startedAt", input.started_at, now)?;
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let created = store::session::start(&txn, &scope, input.kind.into(), started_at, now).await?;
        txn.activity(scope.id(), ActivityKind::SessionStarted, Some(created.id));
        txn.commit().await?;
        Ok(SessionPayload { session: Session::new(scope, created) })
    }

    /// Closes a session. Ending it again changes nothing and returns the same session.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn end_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session to close and when.")] input: EndSessionInput,
    ) -> ApiResult<SessionPayload> {
        let now = parts(ctx)?.0.clock.now();
        let ended_at = validate::occurred_at_field("endedAt", input.ended_at, now)?;
        let (mut txn, scope, current) =
            access::write_owned::<session::Entity>(ctx, "sessionId", &input.session_id, Kind::Session).await?;
        let was_open = current.ended_at.is_none();
        let ended = store::session::end(&txn, current, ended_at).await?;
        if was_open {
            txn.activity(scope.id(), ActivityKind::SessionEnded, Some(ended.id));
        }
        txn.commit().await?;
        Ok(SessionPayload { session: Session::new(scope, ended) })
    }
}
