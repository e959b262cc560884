//! Progress tracking: sessions, attempts, streaks and statistics (types and reads).

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{attempt, exercise_stat, learner, learner_progress, practice_day, session};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::access::{self, parts};
use super::goal::Goal;
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders;
use super::page;
use super::scalars::Date;
use crate::domain::streak::{StreakSummary, local_date};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store::practice;

pub use super::practice::ProgressMutation;

/// What a session is for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Practice,
    Chat,
    Meditation,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Practice => "PRACTICE",
            SessionKind::Chat => "CHAT",
            SessionKind::Meditation => "MEDITATION",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "CHAT" => SessionKind::Chat,
            "MEDITATION" => SessionKind::Meditation,
            _ => SessionKind::Practice,
        }
    }
}

/// The learner's time zone (stored names are validated on write; UTC if one ever is not).
pub fn tz_of(l: &learner::Model) -> Tz {
    l.time_zone.parse().unwrap_or(Tz::UTC)
}

/// A bounded period of activity of one kind.
pub struct Session(pub session::Model);

#[Object]
impl Session {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Session, self.0.id)
    }
    async fn kind(&self) -> SessionKind {
        SessionKind::parse(&self.0.kind)
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// Null while the session is open.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Number of attempts recorded in this session.
    async fn total_exercises(&self) -> i32 {
        self.0.total_exercises
    }
    /// Number of correct attempts recorded in this session.
    async fn correct_answers(&self) -> i32 {
        self.0.correct_answers
    }
    /// `correctAnswers / totalExercises` in 0..1; null with no attempts.
    async fn accuracy(&self) -> Option<f64> {
        ratio(i64::from(self.0.correct_answers), i64::from(self.0.total_exercises))
    }
    async fn learner(&self, ctx: &Context<'_>) -> ApiResult<Learner> {
        access::owner(ctx, self.0.learner_id).await
    }
    /// The attempts of this session, newest first.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> ApiResult<Connection<String, Attempt>> {
        let filter = AttemptFilter { first, after, ..Default::default() };
        attempts_of(ctx, self.0.learner_id, Some(self.0.id), filter).await
    }
}

/// One answer to one exercise or activity.
pub struct Attempt(pub attempt::Model);

#[Object]
impl Attempt {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Attempt, self.0.id)
    }
    async fn exercise_id(&self) -> &str {
        &self.0.exercise_id
    }
    async fn activity_type(&self) -> Option<&str> {
        self.0.activity_type.as_deref()
    }
    async fn objective_id(&self) -> Option<&str> {
        self.0.objective_id.as_deref()
    }
    async fn is_correct(&self) -> bool {
        self.0.is_correct
    }
    async fn score(&self) -> Option<f64> {
        self.0.score
    }
    async fn user_answer(&self) -> Option<&str> {
        self.0.user_answer.as_deref()
    }
    async fn response_time_ms(&self) -> Option<i32> {
        self.0.response_time_ms
    }
    async fn details(&self) -> Option<Json<serde_json::Value>> {
        self.0.details.clone().map(Json)
    }
    /// When the learner answered (client-supplied, default the time it was stored).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// The learner's local day of `occurredAt`, in the time zone the learner had when it was
    /// recorded: the practice day it counts towards.
    async fn local_date(&self) -> Date {
        Date(self.0.local_date)
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn session(&self, ctx: &Context<'_>) -> ApiResult<Option<Session>> {
        let Some(id) = self.0.session_id else { return Ok(None) };
        let (state, _) = parts(ctx)?;
        Ok(session::Entity::find_by_id(id).one(&state.db).await?.map(Session))
    }
    async fn goal(&self, ctx: &Context<'_>) -> ApiResult<Option<Goal>> {
        loaders::goal(ctx, self.0.goal_id).await
    }
    async fn learner(&self, ctx: &Context<'_>) -> ApiResult<Learner> {
        access::owner(ctx, self.0.learner_id).await
    }
}

/// A practice streak, counted in the learner's own time zone.
#[derive(SimpleObject)]
pub struct Streak {
    /// Consecutive practice days ending today or yesterday (local); 0 once a day is missed.
    pub current: i32,
    /// The longest run of consecutive practice days ever.
    pub longest: i32,
    /// The latest local day with an attempt.
    pub last_practice_date: Option<Date>,
}

impl Streak {
    pub fn at(summary: StreakSummary, today: NaiveDate) -> Self {
        Streak {
            current: i32::try_from(summary.current(today)).unwrap_or(i32::MAX),
            longest: i32::try_from(summary.longest).unwrap_or(i32::MAX),
            last_practice_date: summary.last_practice_date.map(Date),
        }
    }
}

pub async fn streak_of(ctx: &Context<'_>, l: &learner::Model) -> ApiResult<Streak> {
    let (state, _) = parts(ctx)?;
    let summary = loaders::progress(ctx, l.id).await?.map(practice::summary_of).unwrap_or_default();
    Ok(Streak::at(summary, local_date(state.clock.now(), tz_of(l))))
}

/// Attempts on one local day.
#[derive(SimpleObject)]
pub struct DayStat {
    pub date: Date,
    pub attempts: i32,
    pub correct: i32,
}

/// Attempts at one exercise.
#[derive(SimpleObject)]
pub struct ExerciseStat {
    pub exercise_id: String,
    pub attempts: i32,
    pub correct: i32,
    /// `correct / attempts` in 0..1.
    pub accuracy: Option<f64>,
    /// The latest `occurredAt` of an attempt at this exercise.
    pub last_attempt_at: DateTime<Utc>,
}

/// Practice statistics of one learner. Every figure is read from counters kept by the attempt's
/// own transaction, so the cost does not grow with the number of attempts.
pub struct ProgressStats {
    pub learner: learner::Model,
    pub totals: Option<learner_progress::Model>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[Object]
impl ProgressStats {
    async fn total_attempts(&self) -> i64 {
        self.totals.as_ref().map_or(0, |t| t.total_attempts)
    }
    async fn correct_attempts(&self) -> i64 {
        self.totals.as_ref().map_or(0, |t| t.correct_attempts)
    }
    /// `correctAttempts / totalAttempts` in 0..1; null with no attempts.
    async fn accuracy(&self) -> Option<f64> {
        self.totals.as_ref().and_then(|t| ratio(t.correct_attempts, t.total_attempts))
    }
    /// Number of distinct exercises attempted.
    async fn exercises_attempted(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let (state, _) = parts(ctx)?;
        let n = exercise_stat::Entity::find()
            .filter(exercise_stat::Column::LearnerId.eq(self.learner.id))
            .count(&state.db)
            .await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
    /// One entry per local day of the last `last` days (1..=366), oldest first, ending today;
    /// days without attempts are included with zeros.
    async fn by_day(&self, ctx: &Context<'_>, #[graphql(default = 30)] last: i32) -> ApiResult<Vec<DayStat>> {
        if !(1..=366).contains(&last) {
            return Err(ApiError::bad_input("last", "must be between 1 and 366"));
        }
        let (state, _) = parts(ctx)?;
        let today = local_date(state.clock.now(), tz_of(&self.learner));
        let from = today.checked_sub_days(Days::new(u64::try_from(last - 1).unwrap_or(0))).unwrap_or(today);
        let rows = practice_day::Entity::find()
            .filter(practice_day::Column::LearnerId.eq(self.learner.id))
            .filter(practice_day::Column::Day.between(from, today))
            .all(&state.db)
            .await?;
        let found: std::collections::HashMap<NaiveDate, practice_day::Model> =
            rows.into_iter().map(|d| (d.day, d)).collect();
        Ok(from
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|day| {
                let (attempts, correct) = found.get(&day).map_or((0, 0), |d| (d.attempts, d.correct));
                DayStat { date: Date(day), attempts, correct }
            })
            .collect())
    }
    /// Per-exercise statistics, most recently attempted first.
    async fn by_exercise(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many exercises, 1..=100 (default 100).")] first: Option<i32>,
        #[graphql(desc = "Only this exercise.")] exercise_id: Option<String>,
    ) -> ApiResult<Vec<ExerciseStat>> {
        let limit = validate::page_size(first, 100)?;
        let (state, _) = parts(ctx)?;
        let mut select = exercise_stat::Entity::find().filter(exercise_stat::Column::LearnerId.eq(self.learner.id));
        if let Some(e) = exercise_id {
            select = select.filter(exercise_stat::Column::ExerciseId.eq(validate::lookup("exerciseId", e)?));
        }
        let rows = select
            .order_by(exercise_stat::Column::LastAttemptAt, Order::Desc)
            .order_by(exercise_stat::Column::ExerciseId, Order::Asc)
            .limit(limit)
            .all(&state.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|s| ExerciseStat {
                accuracy: ratio(i64::from(s.correct), i64::from(s.attempts)),
                exercise_id: s.exercise_id,
                attempts: s.attempts,
                correct: s.correct,
                last_attempt_at: s.last_attempt_at,
            })
            .collect())
    }
}

pub async fn progress_of(ctx: &Context<'_>, l: &learner::Model) -> ApiResult<ProgressStats> {
    let totals = loaders::progress(ctx, l.id).await?;
    Ok(ProgressStats { learner: l.clone(), totals })
}

#[derive(Default)]
pub struct AttemptFilter {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub exercise_id: Option<String>,
    pub session_id: Option<ID>,
    pub goal_id: Option<ID>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub async fn attempts_of(
    ctx: &Context<'_>,
    learner_id: Uuid,
    session_id: Option<Uuid>,
    f: AttemptFilter,
) -> ApiResult<Connection<String, Attempt>> {
    let (state, _) = parts(ctx)?;
    let mut select = attempt::Entity::find().filter(attempt::Column::LearnerId.eq(learner_id));
    let session_id = match (session_id, f.session_id) {
        (Some(s), _) => Some(s),
        (None, Some(gid)) => Some(ids::decode("sessionId", &gid, Kind::Session)?),
        (None, None) => None,
    };
    if let Some(s) = session_id {
        select = select.filter(attempt::Column::SessionId.eq(s));
    }
    if let Some(g) = f.goal_id {
        select = select.filter(attempt::Column::GoalId.eq(ids::decode("goalId", &g, Kind::Goal)?));
    }
    if let Some(e) = f.exercise_id {
        select = select.filter(attempt::Column::ExerciseId.eq(validate::lookup("exerciseId", e)?));
    }
    if let Some(since) = f.since {
        select = select.filter(attempt::Column::OccurredAt.gte(validate::instant("since", since)?));
    }
    if let Some(until) = f.until {
        select = select.filter(attempt::Column::OccurredAt.lt(validate::instant("until", until)?));
    }
    page::keyset(
        &state.db,
        select,
        (attempt::Column::OccurredAt, attempt::Column::Id),
        f.first,
        f.after,
        |a| (a.occurred_at, a.id),
        Attempt,
    )
    .await
}

pub async fn sessions_of(
    ctx: &Context<'_>,
    learner_id: Uuid,
    first: Option<i32>,
    after: Option<String>,
    kind: Option<SessionKind>,
) -> ApiResult<Connection<String, Session>> {
    let (state, _) = parts(ctx)?;
    let mut select = session::Entity::find().filter(session::Column::LearnerId.eq(learner_id));
    if let Some(kind) = kind {
        select = select.filter(session::Column::Kind.eq(kind.as_str()));
    }
    page::keyset(
        &state.db,
        select,
        (session::Column::StartedAt, session::Column::Id),
        first,
        after,
        |s| (s.started_at, s.id),
        Session,
    )
    .await
}
