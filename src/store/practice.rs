//! Recording attempts and keeping the practice counters and the streak summary current.
//!
//! Lock order, the same in every write of a learner's progress: the `learner_progress` row first
//! (an upsert that increments a counter), then the rest. On PostgreSQL that row lock serializes
//! one learner's progress writes, so concurrent attempts and resets neither deadlock nor lose an
//! update; on SQLite, IMMEDIATE transactions already serialize writers.

use chrono::{DateTime, NaiveDate, Utc};
use entity::session::SessionKind;
use entity::{attempt, exercise_stat, goal, learner_progress, practice_day, session};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoIden, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, Set};

use super::idempotent::{self, Stored};
use crate::domain::streak::{StreakSummary, local_date};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{self, LearnerScope};

/// A validated attempt to record.
pub struct NewAttempt {
    pub exercise_id: String,
    pub is_correct: bool,
    pub completed: Option<bool>,
    pub activity_type: Option<String>,
    pub objective_id: Option<String>,
    pub goal_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub score: Option<f64>,
    pub user_answer: Option<String>,
    pub response_time_ms: Option<i32>,
    pub details: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
}

fn opt_key(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value.map(|v| validate::key(field, &v, validate::MAX_KEY_CHARS)).transpose()
}

impl NewAttempt {
    /// Validates every field of an attempt as a client sent it (ids already decoded).
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        exercise_id: &str,
        is_correct: bool,
        completed: Option<bool>,
        activity_type: Option<String>,
        objective_id: Option<String>,
        goal_id: Option<Uuid>,
        session_id: Option<Uuid>,
        score: Option<f64>,
        user_answer: Option<String>,
        response_time_ms: Option<i32>,
        details: Option<serde_json::Value>,
        occurred_at: Option<DateTime<Utc>>,
        idempotency_key: Option<String>,
        max_json_bytes: usize,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        if let Some(score) = score
            && !score.is_finite()
        {
            return Err(ApiError::bad_input("score", "must be a finite number"));
        }
        if let Some(ms) = response_time_ms
            && !(0..=86_400_000).contains(&ms)
        {
            return Err(ApiError::bad_input("responseTimeMs", "must be between 0 and 86400000"));
        }
        if let Some(d) = &details {
            validate::json_size("details", d, max_json_bytes)?;
        }
        Ok(NewAttempt {
            exercise_id: validate::key("exerciseId", exercise_id, validate::MAX_KEY_CHARS)?,
            is_correct,
            completed,
            activity_type: opt_key("activityType", activity_type)?,
            objective_id: opt_key("objectiveId", objective_id)?,
            goal_id,
            session_id,
            score,
            user_answer: user_answer.map(|a| validate::text("userAnswer", &a, validate::MAX_TEXT_CHARS)).transpose()?,
            response_time_ms,
            details,
            occurred_at: validate::occurred_at(occurred_at, now)?,
            idempotency_key: opt_key("idempotencyKey", idempotency_key)?,
        })
    }
}

/// What `record_attempt` did, and the learner's streak summary after it.
pub struct Recorded {
    pub attempt: Stored<attempt::Model>,
    pub summary: StreakSummary,
    /// The attempt was the learner's first on its local day (the streak may have moved).
    pub new_day: bool,
}

/// Records one attempt with every counter it moves: the learner's totals (first, taking the
/// learner's progress lock), the attempt row, its session's counters, its exercise's and its day's
/// counters, and the streak summary. A replayed `idempotencyKey` returns the first attempt; the
/// caller must then roll back, which undoes the count.
pub async fn record_attempt(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    new: NewAttempt,
    now: DateTime<Utc>,
) -> ApiResult<Recorded> {
    let tz = learner.time_zone()?;
    let stored_summary = count_attempt(txn, learner.id(), new.is_correct).await?;
    if let Some(s) = new.session_id
        && access::owned_by::<session::Entity, _>(txn, learner, s).await?.is_none()
    {
        return Err(ApiError::NotFound("session".into()));
    }
    if let Some(g) = new.goal_id
        && access::owned_by::<goal::Entity, _>(txn, learner, g).await?.is_none()
    {
        return Err(ApiError::NotFound("goal".into()));
    }
    let row = attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        session_id: Set(new.session_id),
        goal_id: Set(new.goal_id),
        exercise_id: Set(new.exercise_id),
        activity_type: Set(new.activity_type),
        objective_id: Set(new.objective_id),
        is_correct: Set(new.is_correct),
        score: Set(new.score),
        user_answer: Set(new.user_answer),
        response_time_ms: Set(new.response_time_ms),
        details: Set(new.details),
        occurred_at: Set(new.occurred_at),
        local_date: Set(local_date(new.occurred_at, tz)),
        created_at: Set(now),
        idempotency_key: Set(new.idempotency_key.clone()),
        completed: Set(new.completed),
    };
    let stored = match idempotent::insert_once(txn, learner.id(), new.idempotency_key.as_deref(), row).await? {
        Stored::New(a) => a,
        replayed @ Stored::Replayed(_) => {
            // The summary read under the lock includes this call's count of nothing new: the
            // streak is unchanged by a replay.
            return Ok(Recorded { attempt: replayed, summary: stored_summary, new_day: false });
        }
    };
    if let Some(s) = stored.session_id {
        count_in_session(txn, s, stored.is_correct).await?;
    }
    count_exercise(txn, &stored).await?;
    let new_day = count_day(txn, learner.id(), stored.local_date, stored.is_correct).await?;
    let summary = if new_day {
        add_practice_day(txn, learner.id(), stored_summary, stored.local_date).await?
    } else {
        stored_summary
    };
    Ok(Recorded { attempt: Stored::New(stored), summary, new_day })
}

/// Adds one attempt to the learner's totals, creating the progress row on first use, and returns
/// the row as it now stands. This is the first write of every progress transaction: it takes the
/// learner's progress lock, so the streak summary it returns is the latest one.
async fn count_attempt(txn: &DatabaseTransaction, learner_id: Uuid, correct: bool) -> ApiResult<StreakSummary> {
    let c = i64::from(correct);
    let row = learner_progress::Entity::insert(fresh_progress(learner_id, 1, c))
        .on_conflict(
            OnConflict::column(learner_progress::Column::LearnerId)
                .value(
                    learner_progress::Column::TotalAttempts,
                    plus_excluded(learner_progress::Entity, learner_progress::Column::TotalAttempts),
                )
                .value(
                    learner_progress::Column::CorrectAttempts,
                    plus_excluded(learner_progress::Entity, learner_progress::Column::CorrectAttempts),
                )
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?;
    Ok(summary_of(row))
}

/// `table.col + excluded.col`, for ON CONFLICT DO UPDATE: adds the counts of the row that was
/// about to be inserted to the stored ones, atomically in SQL (the same on SQLite and PostgreSQL).
fn plus_excluded<T, C>(table: T, col: C) -> Expr
where
    T: IntoIden,
    C: IntoIden + Copy,
{
    Expr::col((table, col)).add(Expr::col((Alias::new("excluded"), col)))
}

/// A progress row with these totals and no practice days yet.
fn fresh_progress(learner_id: Uuid, total: i64, correct: i64) -> learner_progress::ActiveModel {
    learner_progress::ActiveModel {
        learner_id: Set(learner_id),
        total_attempts: Set(total),
        correct_attempts: Set(correct),
        longest_streak: Set(0),
        last_practice_date: Set(None),
        current_run_start: Set(None),
    }
}

/// Adds the attempt to its session's counters.
async fn count_in_session(txn: &DatabaseTransaction, session_id: Uuid, correct: bool) -> ApiResult<()> {
    session::Entity::update_many()
        .col_expr(session::Column::TotalExercises, Expr::col(session::Column::TotalExercises).add(1))
        .col_expr(session::Column::CorrectAnswers, Expr::col(session::Column::CorrectAnswers).add(i32::from(correct)))
        .filter(session::Column::Id.eq(session_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Adds the attempt to the per-exercise counters; `last_attempt_at` only moves forward, so a
/// backdated attempt does not make an exercise look stale.
async fn count_exercise(txn: &DatabaseTransaction, a: &attempt::Model) -> ApiResult<()> {
    exercise_stat::Entity::insert(exercise_stat::ActiveModel {
        learner_id: Set(a.learner_id),
        exercise_id: Set(a.exercise_id.clone()),
        attempts: Set(1),
        correct: Set(i32::from(a.is_correct)),
        last_attempt_at: Set(a.occurred_at),
    })
    .on_conflict(
        OnConflict::columns([exercise_stat::Column::LearnerId, exercise_stat::Column::ExerciseId])
            .value(
                exercise_stat::Column::Attempts,
                plus_excluded(exercise_stat::Entity, exercise_stat::Column::Attempts),
            )
            .value(exercise_stat::Column::Correct, plus_excluded(exercise_stat::Entity, exercise_stat::Column::Correct))
            .value(exercise_stat::Column::LastAttemptAt, {
                let (stored, new) = (
                    Expr::col((exercise_stat::Entity, exercise_stat::Column::LastAttemptAt)),
                    Expr::col((Alias::new("excluded"), exercise_stat::Column::LastAttemptAt)),
                );
                Expr::case(new.clone().gt(stored.clone()), new).finally(stored)
            })
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Adds the attempt to its practice day; returns true when the day is new for the learner.
/// The day row is unique per (learner, day), so however many attempts land on one day at once,
/// exactly one of them creates it: the one that reads back a count of 1.
async fn count_day(txn: &DatabaseTransaction, learner_id: Uuid, day: NaiveDate, correct: bool) -> ApiResult<bool> {
    let row = practice_day::Entity::insert(practice_day::ActiveModel {
        learner_id: Set(learner_id),
        day: Set(day),
        attempts: Set(1),
        correct: Set(i32::from(correct)),
    })
    .on_conflict(
        OnConflict::columns([practice_day::Column::LearnerId, practice_day::Column::Day])
            .value(practice_day::Column::Attempts, plus_excluded(practice_day::Entity, practice_day::Column::Attempts))
            .value(practice_day::Column::Correct, plus_excluded(practice_day::Entity, practice_day::Column::Correct))
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?;
    Ok(row.attempts == 1)
}

/// Folds a new practice day into the stored streak summary. A day after the last practice day
/// extends or restarts the run in O(1); an earlier (backdated) day can join or merge runs, so the
/// summary is recomputed from the learner's practice days (one row per day, not per attempt).
/// `stored` is the summary read under the learner's progress lock (`count_attempt`).
async fn add_practice_day(
    txn: &DatabaseTransaction,
    learner_id: Uuid,
    stored: StreakSummary,
    day: NaiveDate,
) -> ApiResult<StreakSummary> {
    let next = match stored.with_new_day(day) {
        Some(next) => next,
        None => streak_from_days(txn, learner_id).await?,
    };
    progress_update(learner_id, &next).exec(txn).await?;
    Ok(next)
}

/// The streak summary of the learner's practice days, read in full (one row per day).
async fn streak_from_days(txn: &DatabaseTransaction, learner_id: Uuid) -> ApiResult<StreakSummary> {
    let days: Vec<NaiveDate> = practice_day::Entity::find()
        .select_only()
        .column(practice_day::Column::Day)
        .filter(practice_day::Column::LearnerId.eq(learner_id))
        .into_tuple()
        .all(txn)
        .await?;
    Ok(StreakSummary::from_days(days))
}

/// The update that stores a streak summary on the learner's progress row; callers may add totals.
fn progress_update(learner_id: Uuid, streak: &StreakSummary) -> sea_orm::UpdateMany<learner_progress::Entity> {
    learner_progress::Entity::update_many()
        .col_expr(
            learner_progress::Column::LongestStreak,
            Expr::value(i32::try_from(streak.longest).unwrap_or(i32::MAX)),
        )
        .col_expr(learner_progress::Column::LastPracticeDate, Expr::value(streak.last_practice_date))
        .col_expr(learner_progress::Column::CurrentRunStart, Expr::value(streak.current_run_start))
        .filter(learner_progress::Column::LearnerId.eq(learner_id))
}

/// The stored streak summary of a learner (empty before the first attempt).
pub async fn summary<C: ConnectionTrait>(db: &C, learner_id: Uuid) -> ApiResult<StreakSummary> {
    Ok(learner_progress::Entity::find_by_id(learner_id).one(db).await?.map(summary_of).unwrap_or_default())
}

pub fn summary_of(p: learner_progress::Model) -> StreakSummary {
    StreakSummary {
        longest: u32::try_from(p.longest_streak).unwrap_or(0),
        last_practice_date: p.last_practice_date,
        current_run_start: p.current_run_start,
    }
}

/// What `resetProgress` removed.
pub struct ResetCounts {
    pub attempts: u64,
    pub sessions: u64,
}

/// Removes a learner's attempts, PRACTICE sessions, practice days and counters. Chat and
/// meditation sessions are history, not progress, and stay.
pub async fn reset(txn: &DatabaseTransaction, learner_id: Uuid) -> ApiResult<ResetCounts> {
    // First the progress row, zeroed by an upsert rather than deleted: that takes the same row lock
    // recordAttempt takes first, even when the row does not exist yet, so a reset and an attempt
    // of one learner never interleave (a delete of a missing row would lock nothing).
    learner_progress::Entity::insert(fresh_progress(learner_id, 0, 0))
        .on_conflict(
            OnConflict::column(learner_progress::Column::LearnerId)
                .update_columns([
                    learner_progress::Column::TotalAttempts,
                    learner_progress::Column::CorrectAttempts,
                    learner_progress::Column::LongestStreak,
                    learner_progress::Column::LastPracticeDate,
                    learner_progress::Column::CurrentRunStart,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    let attempts = attempt::Entity::delete_many().filter(attempt::Column::LearnerId.eq(learner_id)).exec(txn).await?;
    practice_day::Entity::delete_many().filter(practice_day::Column::LearnerId.eq(learner_id)).exec(txn).await?;
    exercise_stat::Entity::delete_many().filter(exercise_stat::Column::LearnerId.eq(learner_id)).exec(txn).await?;
    let sessions = session::Entity::delete_many()
        .filter(session::Column::LearnerId.eq(learner_id))
        .filter(session::Column::Kind.eq(SessionKind::Practice))
        .exec(txn)
        .await?;
    Ok(ResetCounts { attempts: attempts.rows_affected, sessions: sessions.rows_affected })
}

/// `SUM(CASE WHEN is_correct THEN 1 ELSE 0 END)` over attempts.
fn correct_sum() -> Expr {
    Func::sum(Expr::case(Expr::col(attempt::Column::IsCorrect).eq(true), 1).finally(0)).into()
}

/// Inserts into `into` (`columns`: learner, `key`, count, correct count, then `extra`) one row per
/// `key` of the learner's attempts.
async fn regroup<E: EntityTrait, const N: usize>(
    txn: &DatabaseTransaction,
    into: E,
    columns: [E::Column; N],
    learner_id: Uuid,
    key: attempt::Column,
    extra: Option<Expr>,
) -> ApiResult<()> {
    let mut select = Query::select();
    select
        .column(attempt::Column::LearnerId)
        .column(key)
        .expr(Func::count(Expr::col(attempt::Column::Id)))
        .expr(correct_sum())
        .from(attempt::Entity)
        .and_where(attempt::Column::LearnerId.eq(learner_id))
        .group_by_col(attempt::Column::LearnerId)
        .group_by_col(key);
    if let Some(extra) = extra {
        select.expr(extra);
    }
    let insert = Query::insert()
        .into_table(into)
        .columns(columns)
        .select_from(select)
        .map_err(|e| {
            tracing::error!(error = %e, "building a practice rebuild");
            ApiError::Internal
        })?
        .to_owned();
    txn.execute(&insert).await?;
    Ok(())
}

/// Rebuilds a learner's derived practice data (practice days, exercise statistics, session
/// counters, totals and the streak summary) from its attempts: for attempts loaded in bulk (the
/// benchmarks' seeding). O(attempts); retention uses the incremental `forget_attempts`. Takes the
/// learner's progress lock first, as every progress write does.
pub async fn rebuild(txn: &DatabaseTransaction, learner_id: Uuid) -> ApiResult<()> {
    lock_progress(txn, learner_id).await?;
    practice_day::Entity::delete_many().filter(practice_day::Column::LearnerId.eq(learner_id)).exec(txn).await?;
    let days = [
        practice_day::Column::LearnerId,
        practice_day::Column::Day,
        practice_day::Column::Attempts,
        practice_day::Column::Correct,
    ];
    regroup(txn, practice_day::Entity, days, learner_id, attempt::Column::LocalDate, None).await?;
    exercise_stat::Entity::delete_many().filter(exercise_stat::Column::LearnerId.eq(learner_id)).exec(txn).await?;
    let stats = [
        exercise_stat::Column::LearnerId,
        exercise_stat::Column::ExerciseId,
        exercise_stat::Column::Attempts,
        exercise_stat::Column::Correct,
        exercise_stat::Column::LastAttemptAt,
    ];
    let last = Func::max(Expr::col(attempt::Column::OccurredAt)).into();
    regroup(txn, exercise_stat::Entity, stats, learner_id, attempt::Column::ExerciseId, Some(last)).await?;

    // Session counters, from the attempts each session still has.
    let in_session = |correct_only: bool| -> Expr {
        let mut q = Query::select();
        q.expr(Func::count(Expr::col((attempt::Entity, attempt::Column::Id)))).from(attempt::Entity).and_where(
            Expr::col((attempt::Entity, attempt::Column::SessionId)).equals((session::Entity, session::Column::Id)),
        );
        if correct_only {
            q.and_where(Expr::col((attempt::Entity, attempt::Column::IsCorrect)).eq(true));
        }
        Expr::SubQuery(None, Box::new(sea_orm::sea_query::SubQueryStatement::SelectStatement(q.to_owned())))
    };
    session::Entity::update_many()
        .col_expr(session::Column::TotalExercises, in_session(false))
        .col_expr(session::Column::CorrectAnswers, in_session(true))
        .filter(session::Column::LearnerId.eq(learner_id))
        .exec(txn)
        .await?;

    let (total, correct): (i64, i64) = attempt::Entity::find()
        .select_only()
        .expr(Func::count(Expr::col(attempt::Column::Id)))
        .expr(Func::coalesce([correct_sum(), Expr::val(0)]))
        .filter(attempt::Column::LearnerId.eq(learner_id))
        .into_tuple()
        .one(txn)
        .await?
        .unwrap_or((0, 0));
    let streak = streak_from_days(txn, learner_id).await?;
    progress_update(learner_id, &streak)
        .col_expr(learner_progress::Column::TotalAttempts, Expr::value(total))
        .col_expr(learner_progress::Column::CorrectAttempts, Expr::value(correct))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes the learner's progress lock: a no-op upsert of its progress row (created if missing).
async fn lock_progress(txn: &DatabaseTransaction, learner_id: Uuid) -> ApiResult<()> {
    learner_progress::Entity::insert(fresh_progress(learner_id, 0, 0))
        .on_conflict(
            OnConflict::column(learner_progress::Column::LearnerId)
                .value(
                    learner_progress::Column::TotalAttempts,
                    Expr::col((learner_progress::Entity, learner_progress::Column::TotalAttempts)),
                )
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Counts taken out of one counter row.
#[derive(Default)]
struct Minus {
    attempts: i32,
    correct: i32,
    newest: Option<DateTime<Utc>>,
}

impl Minus {
    fn add(&mut self, a: &attempt::Model) {
        self.attempts += 1;
        self.correct += i32::from(a.is_correct);
        self.newest = Ord::max(self.newest, Some(a.occurred_at));
    }
}

/// `CASE col WHEN k THEN n … ELSE 0 END` for the attempts and the correct ones per key: one UPDATE
/// takes a batch out of every row it touched.
fn minus<C, K>(col: C, by: &std::collections::BTreeMap<K, Minus>) -> (Expr, Expr)
where
    C: sea_orm::ColumnTrait,
    K: Clone + Into<sea_orm::Value>,
{
    let case = |n: fn(&Minus) -> i32| {
        let mut arms = by.iter();
        let Some((k, m)) = arms.next() else { return Expr::val(0) };
        let mut case = Expr::case(Expr::col(col).eq(k.clone()), n(m));
        for (k, m) in arms {
            case = case.case(Expr::col(col).eq(k.clone()), n(m));
        }
        case.finally(0).into()
    };
    (case(|m| m.attempts), case(|m| m.correct))
}

/// Deletes up to `limit` of the learner's attempts matching `when` (retention) and takes exactly
/// those out of every counter: practice days, exercise statistics, session counters, totals; the
/// streak summary is recomputed from the practice days that remain. The cost follows the batch,
/// not the learner's history. Takes the learner's progress lock first. Returns how many went.
pub async fn forget_attempts(
    txn: &DatabaseTransaction,
    learner_id: Uuid,
    when: sea_orm::Condition,
    limit: u64,
) -> ApiResult<u64> {
    use std::collections::BTreeMap;
    lock_progress(txn, learner_id).await?;
    let rows = attempt::Entity::find()
        .filter(attempt::Column::LearnerId.eq(learner_id))
        .filter(when)
        .limit(limit)
        .all(txn)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    attempt::Entity::delete_many()
        .filter(attempt::Column::LearnerId.eq(learner_id))
        .filter(attempt::Column::Id.is_in(rows.iter().map(|a| a.id)))
        .exec(txn)
        .await?;
    let (mut days, mut exercises, mut sessions, mut total) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), Minus::default());
    for a in &rows {
        days.entry(a.local_date).or_insert_with(Minus::default).add(a);
        exercises.entry(a.exercise_id.as_str()).or_insert_with(Minus::default).add(a);
        if let Some(s) = a.session_id {
            sessions.entry(s).or_insert_with(Minus::default).add(a);
        }
        total.add(a);
    }
    let (attempts, correct) = minus(practice_day::Column::Day, &days);
    practice_day::Entity::update_many()
        .col_expr(practice_day::Column::Attempts, Expr::col(practice_day::Column::Attempts).sub(attempts))
        .col_expr(practice_day::Column::Correct, Expr::col(practice_day::Column::Correct).sub(correct))
        .filter(practice_day::Column::LearnerId.eq(learner_id))
        .filter(practice_day::Column::Day.is_in(days.keys().copied()))
        .exec(txn)
        .await?;
    practice_day::Entity::delete_many()
        .filter(practice_day::Column::LearnerId.eq(learner_id))
        .filter(practice_day::Column::Attempts.lte(0))
        .exec(txn)
        .await?;
    let stored = exercise_stat::Entity::find()
        .filter(exercise_stat::Column::LearnerId.eq(learner_id))
        .filter(exercise_stat::Column::ExerciseId.is_in(exercises.keys().copied()))
        .all(txn)
        .await?;
    let (attempts, correct) = minus(exercise_stat::Column::ExerciseId, &exercises);
    exercise_stat::Entity::update_many()
        .col_expr(exercise_stat::Column::Attempts, Expr::col(exercise_stat::Column::Attempts).sub(attempts))
        .col_expr(exercise_stat::Column::Correct, Expr::col(exercise_stat::Column::Correct).sub(correct))
        .filter(exercise_stat::Column::LearnerId.eq(learner_id))
        .filter(exercise_stat::Column::ExerciseId.is_in(exercises.keys().copied()))
        .exec(txn)
        .await?;
    // Where an exercise's newest attempt went while others stay, read its new newest (rare:
    // retention deletes old attempts, so only an old session's newer ones can be the newest).
    for stat in stored {
        let Some(m) = exercises.get(stat.exercise_id.as_str()) else { continue };
        if stat.attempts <= m.attempts || m.newest < Some(stat.last_attempt_at) {
            continue;
        }
        let newest = attempt::Entity::find()
            .select_only()
            .expr(Func::max(Expr::col(attempt::Column::OccurredAt)))
            .filter(attempt::Column::LearnerId.eq(learner_id))
            .filter(attempt::Column::ExerciseId.eq(stat.exercise_id.as_str()))
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(txn)
            .await?
            .flatten();
        if let Some(newest) = newest {
            exercise_stat::Entity::update_many()
                .col_expr(exercise_stat::Column::LastAttemptAt, Expr::value(newest))
                .filter(exercise_stat::Column::LearnerId.eq(learner_id))
                .filter(exercise_stat::Column::ExerciseId.eq(stat.exercise_id.as_str()))
                .exec(txn)
                .await?;
        }
    }
    exercise_stat::Entity::delete_many()
        .filter(exercise_stat::Column::LearnerId.eq(learner_id))
        .filter(exercise_stat::Column::Attempts.lte(0))
        .exec(txn)
        .await?;
    if !sessions.is_empty() {
        let (attempts, correct) = minus(session::Column::Id, &sessions);
        session::Entity::update_many()
            .col_expr(session::Column::TotalExercises, Expr::col(session::Column::TotalExercises).sub(attempts))
            .col_expr(session::Column::CorrectAnswers, Expr::col(session::Column::CorrectAnswers).sub(correct))
            .filter(session::Column::Id.is_in(sessions.keys().copied()))
            .exec(txn)
            .await?;
    }
    let streak = streak_from_days(txn, learner_id).await?;
    progress_update(learner_id, &streak)
        .col_expr(
            learner_progress::Column::TotalAttempts,
            Expr::col(learner_progress::Column::TotalAttempts).sub(i64::from(total.attempts)),
        )
        .col_expr(
            learner_progress::Column::CorrectAttempts,
            Expr::col(learner_progress::Column::CorrectAttempts).sub(i64::from(total.correct)),
        )
        .exec(txn)
        .await?;
    Ok(rows.len() as u64)
}
