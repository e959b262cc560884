//! Practice: attempts, streaks and statistics, read and written under one name.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Days, NaiveDate, Utc};
use entity::activity::ActivityKind;
use entity::{attempt, exercise_stat, practice_day};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::access::{self, LearnerScope, of_learner, parts};
use super::fast::{Fast, Leaf, Leaves, List, id, text, text_opt, time, value};
use super::goal::Goal;
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders::{self, GoalOf, SessionOf};
use super::page;
use super::scalars::Date;
use super::session::Session;
use crate::domain::streak::{StreakSummary, local_date};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::idempotent::Stored;
use crate::store::practice::NewAttempt;

pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// One answer to one exercise or activity.
pub struct Attempt {
    scope: LearnerScope,
    row: attempt::Model,
}

impl Attempt {
    pub fn new(scope: LearnerScope, row: attempt::Model) -> Self {
        Attempt { scope, row }
    }
}

impl Leaves for Attempt {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::Attempt, r.id),
            "exerciseId" => text(&r.exercise_id),
            "activityType" => text_opt(r.activity_type.as_deref()),
            "objectiveId" => text_opt(r.objective_id.as_deref()),
            "isCorrect" => value(&r.is_correct),
            "completed" => value(&r.completed),
            "score" => value(&r.score),
            "userAnswer" => text_opt(r.user_answer.as_deref()),
            "responseTimeMs" => value(&r.response_time_ms),
            "occurredAt" => time(&r.occurred_at),
            "localDate" => value(&Date(r.local_date)),
            "createdAt" => time(&r.created_at),
            _ => return None,
        })
    }
}

/// One answer to one exercise or activity.
#[Object]
impl Attempt {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Attempt, self.row.id)
    }
    /// The exercise or activity answered (the client's key).
    async fn exercise_id(&self) -> &str {
        &self.row.exercise_id
    }
    /// The kind of activity, in the client's vocabulary (e.g. `quiz`).
    async fn activity_type(&self) -> Option<&str> {
        self.row.activity_type.as_deref()
    }
    /// The learning objective the attempt worked towards (the client's key).
    async fn objective_id(&self) -> Option<&str> {
        self.row.objective_id.as_deref()
    }
    /// Whether the answer was right.
    async fn is_correct(&self) -> bool {
        self.row.is_correct
    }
    /// Whether the activity was finished; null when the client did not say.
    async fn completed(&self) -> Option<bool> {
        self.row.completed
    }
    /// A score the client gave the answer, if any.
    async fn score(&self) -> Option<f64> {
        self.row.score
    }
    /// The learner's answer as given.
    async fn user_answer(&self) -> Option<&str> {
        self.row.user_answer.as_deref()
    }
    /// How long the learner took to answer, in milliseconds.
    async fn response_time_ms(&self) -> Option<i32> {
        self.row.response_time_ms
    }
    /// Free-form JSON the client recorded with the attempt.
    async fn details(&self) -> Option<Json<&serde_json::Value>> {
        self.row.details.as_ref().map(Json)
    }
    /// When the learner answered (client-supplied, default the time it was stored).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
    /// The learner's local day of `occurredAt`, in the time zone the learner had when it was
    /// recorded: the practice day it counts towards.
    async fn local_date(&self) -> Date {
        Date(self.row.local_date)
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The session the attempt was recorded in, if any.
    async fn session(&self) -> Option<Session> {
        self.row.session_id.map(|id| Session::by_id(self.scope.clone(), id, SessionOf::Attempt))
    }
    /// The goal the attempt worked towards, if any.
    async fn goal(&self) -> Option<Goal> {
        self.row.goal_id.map(|id| Goal::by_id(self.scope.clone(), id, GoalOf::Attempt))
    }
    /// The learner who answered.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
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

impl Leaves for Streak {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "current" => value(&self.current),
            "longest" => value(&self.longest),
            "lastPracticeDate" => value(&self.last_practice_date),
            _ => return None,
        })
    }
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

/// Attempts on one local day.
#[derive(SimpleObject)]
pub struct DayStat {
    /// The learner's local day.
    pub date: Date,
    /// Attempts that day.
    pub attempts: i32,
    /// Correct attempts that day.
    pub correct: i32,
}

impl Leaves for DayStat {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "date" => value(&self.date),
            "attempts" => value(&self.attempts),
            "correct" => value(&self.correct),
            _ => return None,
        })
    }
}

/// Attempts at one exercise.
#[derive(SimpleObject)]
pub struct ExerciseStat {
    /// The exercise (the client's key).
    pub exercise_id: String,
    /// Attempts at it.
    pub attempts: i32,
    /// Correct attempts at it.
    pub correct: i32,
    /// `correct / attempts` in 0..1.
    pub accuracy: Option<f64>,
    /// The latest `occurredAt` of an attempt at this exercise.
    pub last_attempt_at: DateTime<Utc>,
}

/// Practice statistics of one learner. Every figure is read from counters kept by the attempt's
/// own transaction, so the cost does not grow with the number of attempts.
pub struct ProgressStats {
    scope: LearnerScope,
    totals: Option<entity::learner_progress::Model>,
}

impl Leaves for ProgressStats {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let totals = self.totals.as_ref();
        Some(match name {
            "totalAttempts" => value(&totals.map_or(0, |t| t.total_attempts)),
            "correctAttempts" => value(&totals.map_or(0, |t| t.correct_attempts)),
            "accuracy" => value(&totals.and_then(|t| ratio(t.correct_attempts, t.total_attempts))),
            _ => return None,
        })
    }
}

/// Most days `byDay` covers.
const MAX_DAYS: i32 = 366;

/// Practice statistics of one learner. Every figure is read from counters kept by the attempt's
/// own transaction, so the cost does not grow with the number of attempts.
#[Object]
impl ProgressStats {
    /// Attempts recorded.
    async fn total_attempts(&self) -> i64 {
        self.totals.as_ref().map_or(0, |t| t.total_attempts)
    }
    /// Correct attempts recorded.
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
        let n = of_learner::<exercise_stat::Entity>(&self.scope).count(&state.reader).await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
    /// One entry per local day of the last `last` days (1..=366), oldest first, ending today;
    /// days without attempts are included with zeros.
    #[graphql(complexity = "(last.clamp(1, MAX_DAYS) as usize) * child_complexity.max(1) + 1")]
    async fn by_day(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30, desc = "How many days, 1..=366 (default 30).")] last: i32,
    ) -> ApiResult<List<DayStat>> {
        if !(1..=MAX_DAYS).contains(&last) {
            return Err(ApiError::bad_input("last", "must be between 1 and 366"));
        }
        let (state, _) = parts(ctx)?;
        let today = local_date(state.clock.now(), self.scope.time_zone()?);
        let from = today.checked_sub_days(Days::new(u64::try_from(last - 1).unwrap_or(0))).unwrap_or(today);
        let rows = loaders::practice_days(ctx, &self.scope, from, today).await?;
        let found: std::collections::HashMap<NaiveDate, practice_day::Model> =
            rows.into_iter().map(|d| (d.day, d)).collect();
        Ok(List(
            from.iter_days()
                .take_while(|d| *d <= today)
                .map(|day| {
                    let (attempts, correct) = found.get(&day).map_or((0, 0), |d| (d.attempts, d.correct));
                    DayStat { date: Date(day), attempts, correct }
                })
                .collect(),
        ))
    }
    /// Per-exercise statistics, most recently attempted first.
    #[graphql(complexity = "page::cost_with(first, 100, child_complexity)")]
    async fn by_exercise(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many exercises, 1..=100 (default 100).")] first: Option<i32>,
        #[graphql(desc = "Only this exercise.")] exercise_id: Option<String>,
    ) -> ApiResult<Vec<ExerciseStat>> {
        let limit = validate::page_size(first, 100)?;
        let (state, _) = parts(ctx)?;
        let mut select = of_learner::<exercise_stat::Entity>(&self.scope);
        if let Some(e) = exercise_id {
            select = select.filter(exercise_stat::Column::ExerciseId.eq(validate::lookup("exerciseId", e)?));
        }
        let rows = select
            .order_by(exercise_stat::Column::LastAttemptAt, Order::Desc)
            .order_by(exercise_stat::Column::ExerciseId, Order::Asc)
            .limit(limit)
            .all(&state.reader)
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

/// Filters of an attempts list.
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

/// A page of a learner's attempts, newest first; `session_id` narrows it to one session.
pub async fn attempts_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    session_id: Option<Uuid>,
    f: AttemptFilter,
) -> ApiResult<page::Connection<Attempt>> {
    let mut filter = sea_orm::Condition::all();
    let session_id = match (session_id, f.session_id) {
        (Some(s), _) => Some(s),
        (None, Some(gid)) => Some(ids::decode("sessionId", &gid, Kind::Session)?),
        (None, None) => None,
    };
    if let Some(g) = f.goal_id {
        filter = filter.add(attempt::Column::GoalId.eq(ids::decode("goalId", &g, Kind::Goal)?));
    }
    if let Some(e) = f.exercise_id {
        filter = filter.add(attempt::Column::ExerciseId.eq(validate::lookup("exerciseId", e)?));
    }
    if let Some(since) = f.since {
        filter = filter.add(attempt::Column::OccurredAt.gte(validate::instant("since", since)?));
    }
    if let Some(until) = f.until {
        filter = filter.add(attempt::Column::OccurredAt.lt(validate::instant("until", until)?));
    }
    page::batched::<attempt::Entity, _>(ctx, scope, session_id, filter, f.first, f.after, |a| {
        Attempt::new(scope.clone(), a)
    })
    .await
}

/// The practice fields of `Learner`.
pub struct LearnerPractice(pub LearnerScope);

/// The practice fields of `Learner`.
#[Object]
impl LearnerPractice {
    /// Practice attempts, newest first (by `occurredAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only attempts at this exercise.")] exercise_id: Option<String>,
        #[graphql(desc = "Only attempts in this session.")] session_id: Option<ID>,
        #[graphql(desc = "Only attempts towards this goal.")] goal_id: Option<ID>,
        #[graphql(desc = "Only attempts that occurred at or after this instant.")] since: Option<DateTime<Utc>>,
        #[graphql(desc = "Only attempts that occurred before this instant.")] until: Option<DateTime<Utc>>,
    ) -> ApiResult<page::Connection<Attempt>> {
        let filter = AttemptFilter { first, after, exercise_id, session_id, goal_id, since, until };
        attempts_of(ctx, &self.0, None, filter).await
    }

    /// Practice streak in the learner's time zone; `current` is 0 once a day is missed.
    async fn streak(&self, ctx: &Context<'_>) -> ApiResult<Fast<Streak>> {
        let (state, _) = parts(ctx)?;
        let summary = loaders::progress(ctx, &self.0).await?.map(store::practice::summary_of).unwrap_or_default();
        Ok(Fast(Streak::at(summary, local_date(state.clock.now(), self.0.time_zone()?))))
    }

    /// Practice totals, accuracy and per-day and per-exercise statistics.
    async fn progress(&self, ctx: &Context<'_>) -> ApiResult<Fast<ProgressStats>> {
        Ok(Fast(ProgressStats { scope: self.0.clone(), totals: loaders::progress(ctx, &self.0).await? }))
    }
}

/// One answer to one exercise.
#[derive(InputObject)]
pub struct RecordAttemptInput {
    /// The learner who answered.
    pub learner_id: ID,
    /// 1..=128 characters.
    pub exercise_id: String,
    /// Whether the answer was right.
    pub is_correct: bool,
    /// Whether the activity was finished (an activity can be finished without being right).
    pub completed: Option<bool>,
    /// The kind of activity (1..=128 characters).
    pub activity_type: Option<String>,
    /// The learning objective worked towards (1..=128 characters).
    pub objective_id: Option<String>,
    /// One of the learner's goals.
    pub goal_id: Option<ID>,
    /// One of the learner's sessions.
    pub session_id: Option<ID>,
    /// A finite number.
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

impl RecordAttemptInput {
    fn parse(self, max_json_bytes: usize, now: DateTime<Utc>) -> ApiResult<(ID, NewAttempt)> {
        let goal_id = self.goal_id.as_ref().map(|g| ids::decode("goalId", g, Kind::Goal)).transpose()?;
        let session_id = self.session_id.as_ref().map(|s| ids::decode("sessionId", s, Kind::Session)).transpose()?;
        let new = NewAttempt::parse(
            &self.exercise_id,
            self.is_correct,
            self.completed,
            self.activity_type,
            self.objective_id,
            goal_id,
            session_id,
            self.score,
            self.user_answer,
            self.response_time_ms,
            self.details.map(|Json(d)| d),
            self.occurred_at,
            self.idempotency_key,
            max_json_bytes,
            now,
        )?;
        Ok((self.learner_id, new))
    }
}

/// The result of `recordAttempt`.
#[derive(SimpleObject)]
pub struct RecordAttemptPayload {
    /// The stored attempt (the first one, for a retried `idempotencyKey`).
    pub attempt: Attempt,
    /// The learner's streak after this attempt.
    pub streak: Streak,
}

/// The learner whose progress to reset.
#[derive(InputObject)]
pub struct ResetProgressInput {
    /// The learner's global id.
    pub learner_id: ID,
}

/// What `resetProgress` removed.
#[derive(SimpleObject)]
pub struct ResetProgressPayload {
    /// Attempts deleted.
    pub deleted_attempts: i64,
    /// PRACTICE sessions deleted (chat and meditation sessions are kept).
    pub deleted_sessions: i64,
    /// The learner after the reset.
    pub learner: Learner,
}

#[derive(Default)]
pub struct PracticeMutation;

#[Object]
impl PracticeMutation {
    /// Records one answer and returns the learner's streak after it.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn record_attempt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the answer given.")] input: RecordAttemptInput,
    ) -> ApiResult<RecordAttemptPayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let (learner_id, new) = input.parse(state.config.max_json_bytes, now)?;
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &learner_id).await?;
        let recorded = store::practice::record_attempt(&txn, &scope, new, now).await?;
        let attempt = match recorded.attempt {
            Stored::New(a) => {
                txn.activity(scope.id(), ActivityKind::Attempt, Some(a.id));
                if recorded.new_day {
                    txn.activity(scope.id(), ActivityKind::Streak, None);
                }
                txn.commit().await?;
                a
            }
            // Dropping the transaction rolls back what this call counted.
            Stored::Replayed(a) => a,
        };
        let today = local_date(now, scope.time_zone()?);
        Ok(RecordAttemptPayload { attempt: Attempt::new(scope, attempt), streak: Streak::at(recorded.summary, today) })
    }

    /// Deletes the learner's attempts, PRACTICE sessions and practice days and zeroes the streak,
    /// in one transaction. Goals, profiles, events, chat and meditation history are untouched.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn reset_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner whose practice progress to reset.")] input: ResetProgressInput,
    ) -> ApiResult<ResetProgressPayload> {
        let (mut txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let counts = store::practice::reset(&txn, scope.id()).await?;
        txn.activity(scope.id(), ActivityKind::ProgressReset, None);
        txn.commit().await?;
        tracing::info!(learner_id = %scope.id(), attempts = counts.attempts, "progress reset");
        Ok(ResetProgressPayload {
            deleted_attempts: i64::try_from(counts.attempts).unwrap_or(i64::MAX),
            deleted_sessions: i64::try_from(counts.sessions).unwrap_or(i64::MAX),
            learner: Learner::new(scope),
        })
    }
}
