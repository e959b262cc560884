//! `learngraph import`: brings learners' history over from the stores learngraph replaces.
//!
//! A source reader (`sources.rs`) turns its files or tables into one `Incoming` per learner; each
//! is then written through the same store functions the API uses (so counters, streaks, profile
//! versions and idempotency keys are right), in one transaction per learner: a learner is imported
//! whole or not at all. Every row carries a stable key derived from the source (its primary key,
//! or a hash of its content), so a second run, or a re-run after an interrupted one, finds what
//! is there and writes nothing twice.

pub mod sources;
pub mod wellbeing;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::session::SessionKind;
use entity::{attempt, event, goal, session};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::error::{ApiError, ApiResult};
use crate::graphql::AppState;
use crate::graphql::access::LearnerScope;
use crate::store;

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Read and check everything and report what would happen; write nothing.
    pub dry_run: bool,
    /// Stop at the first malformed file, row or value, changing nothing.
    pub strict: bool,
    /// `user_7` is the same person as `7` (the progress system parsed both).
    pub merge_prefixed_ids: bool,
}

/// Rows of one source table or file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub read: u64,
    pub imported: u64,
    pub present: u64,
    pub skipped: u64,
}

/// A streak as a source stored it, or as learngraph computes it from the imported attempts
/// (`current` as of `last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Streak {
    pub current: u32,
    pub longest: u32,
    pub last: Option<NaiveDate>,
}

/// A learner whose stored streak disagrees with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreakMismatch {
    pub learner: String,
    pub stored: Streak,
    pub recomputed: Streak,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Per source table or file.
    pub tables: BTreeMap<String, Counts>,
    pub learners_created: u64,
    pub learners_present: u64,
    /// Malformed input, each with where it is (file and key, or table and row id) and why.
    pub problems: Vec<String>,
    pub streak_mismatches: Vec<StreakMismatch>,
    /// Learners that could not be written (the database refused); nothing of them was written.
    pub failed_learners: Vec<(String, String)>,
}

impl Report {
    pub fn counts(&mut self, table: &str) -> &mut Counts {
        self.tables.entry(table.to_owned()).or_default()
    }

    /// Notes a row that is skipped, and why.
    pub fn skip(&mut self, table: &str, problem: String) {
        self.counts(table).skipped += 1;
        self.problems.push(problem);
    }

    /// Whether anything was skipped or failed (the command's exit code says so).
    pub fn incomplete(&self) -> bool {
        !self.problems.is_empty() || !self.failed_learners.is_empty()
    }

    /// The report as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![];
        if self.dry_run {
            out.push("dry run: nothing was written".to_owned());
        }
        out.push(format!("{:<28} {:>9} {:>9} {:>9} {:>9}", "table or file", "read", "imported", "present", "skipped"));
        for (table, c) in &self.tables {
            out.push(format!("{table:<28} {:>9} {:>9} {:>9} {:>9}", c.read, c.imported, c.present, c.skipped));
        }
        out.push(format!("learners: {} created, {} already present", self.learners_created, self.learners_present));
        if !self.streak_mismatches.is_empty() {
            out.push(format!(
                "{} learners' stored streaks disagree with their attempts (stored -> recomputed; the recomputed one is kept):",
                self.streak_mismatches.len()
            ));
            for m in &self.streak_mismatches {
                out.push(format!(
                    "  {}: current {} -> {}, longest {} -> {}, last practice {} -> {}",
                    m.learner,
                    m.stored.current,
                    m.recomputed.current,
                    m.stored.longest,
                    m.recomputed.longest,
                    day(m.stored.last),
                    day(m.recomputed.last)
                ));
            }
        }
        if !self.problems.is_empty() {
            out.push(format!("{} skipped:", self.problems.len()));
            out.extend(self.problems.iter().map(|p| format!("  {p}")));
        }
        for (learner, why) in &self.failed_learners {
            out.push(format!("learner {learner} not imported: {why}"));
        }
        out
    }
}

fn day(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "none".to_owned(), |d| d.to_string())
}

/// Everything one learner brings from a source.
#[derive(Debug, Default)]
pub struct Incoming {
    pub external_id: String,
    pub goals: Vec<IncomingGoal>,
    pub sessions: Vec<IncomingSession>,
    pub events: Vec<IncomingEvent>,
    pub attempts: Vec<IncomingAttempt>,
    /// The streak the source stored, with the table it came from.
    pub stored_streak: Option<(String, Streak)>,
    /// Learner details (the learner-profile file), each with the table it came from.
    pub details: Vec<(String, IncomingDetail)>,
    /// The wellbeing companion's rows (the wellbeing tables).
    pub wellbeing: wellbeing::Wellbeing,
}

/// One learner detail, as `syncLearnerProfile` would set it.
#[derive(Debug)]
pub enum IncomingDetail {
    Preference {
        category: String,
        value: String,
    },
    Interest(String),
    Struggle(String),
    Metric {
        task_name: String,
        metrics: serde_json::Value,
    },
    Objective {
        objective_id: String,
        status: entity::objective_progress::ObjectiveStatus,
        score: Option<f64>,
        details: Option<serde_json::Value>,
        started_at: Option<DateTime<Utc>>,
        completed_at: Option<DateTime<Utc>>,
    },
    Badge {
        badge_id: String,
        name: String,
        details: Option<serde_json::Value>,
        earned_at: Option<DateTime<Utc>>,
    },
}

#[derive(Debug)]
pub struct IncomingGoal {
    pub table: String,
    pub external_id: String,
    pub profile: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct IncomingSession {
    pub table: String,
    pub kind: SessionKind,
    /// The source's id, for attempts that name it.
    pub source_id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct IncomingEvent {
    pub table: String,
    /// Where it is in the source, for the report.
    pub location: String,
    pub key: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub occurred_at: Option<DateTime<Utc>>,
    pub goal_external_id: Option<String>,
}

#[derive(Debug)]
pub struct IncomingAttempt {
    pub table: String,
    pub location: String,
    pub key: String,
    pub exercise_id: String,
    pub is_correct: bool,
    pub user_answer: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub session_source_id: Option<String>,
    pub details: Option<serde_json::Value>,
    pub activity_type: Option<String>,
    pub objective_id: Option<String>,
    pub score: Option<f64>,
    pub completed: Option<bool>,
}

/// Writes `learners` (each in one transaction), adding to `report`. In strict mode the caller has
/// already checked that the reading found no problem; a row the store refuses then stops the
/// import (that learner is rolled back, and nothing more is written).
pub async fn apply(
    state: &AppState,
    learners: Vec<Incoming>,
    options: Options,
    report: &mut Report,
    progress: &(dyn Fn(usize, usize) + Sync),
) {
    let total = learners.len();
    for (done, incoming) in learners.into_iter().enumerate() {
        let external_id = incoming.external_id.clone();
        let mut learner_report = Report::default();
        match write_learner(state, incoming, options, &mut learner_report).await {
            Ok(()) if options.strict && !learner_report.problems.is_empty() => {
                report.problems.append(&mut learner_report.problems);
                report.failed_learners.push((external_id, "strict: a row was refused; stopped".to_owned()));
                return;
            }
            Ok(()) => merge(report, learner_report),
            Err(e) => {
                let why = format!("{} ({})", e.message(), e.code());
                report.failed_learners.push((external_id, why));
                if options.strict {
                    return;
                }
            }
        }
        progress(done + 1, total);
    }
}

fn merge(into: &mut Report, from: Report) {
    for (table, c) in from.tables {
        let t = into.counts(&table);
        t.read += c.read;
        t.imported += c.imported;
        t.present += c.present;
        t.skipped += c.skipped;
    }
    into.learners_created += from.learners_created;
    into.learners_present += from.learners_present;
    into.problems.extend(from.problems);
    into.streak_mismatches.extend(from.streak_mismatches);
}

/// Imports one learner in one transaction (rolled back when dry).
async fn write_learner(
    state: &AppState,
    incoming: Incoming,
    options: Options,
    report: &mut Report,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let max_json = state.config.max_json_bytes;
    let txn = state.begin_write().await?;
    let new = store::learner::NewLearner::parse(&incoming.external_id, None, None)?;
    let (row, created) = store::learner::ensure(&txn, new, now).await?;
    if created {
        report.learners_created += 1;
    } else {
        report.learners_present += 1;
    }
    let learner = LearnerScope::for_operator(row);

    // Goals, by externalId: a new one is created with its profile as version 1; a present one
    // whose profile differs gets it as a new version.
    let mut goals: HashMap<String, goal::Model> = goal::Entity::find()
        .filter(goal::Column::LearnerId.eq(learner.id()))
        .all(&*txn)
        .await?
        .into_iter()
        .filter_map(|g| g.external_id.clone().map(|e| (e, g)))
        .collect();
    for g in incoming.goals {
        let counts = report.counts(&g.table);
        match goals.get(&g.external_id) {
            Some(current) if g.profile.as_ref().is_none_or(|p| *p == current.profile) => counts.present += 1,
            Some(current) => {
                let profile = g.profile.unwrap_or_default();
                let updated = store::goal::set_profile(&txn, current.clone(), profile, None, now).await?;
                counts.imported += 1;
                goals.insert(g.external_id, updated);
            }
            None => {
                let title = format!("Goal {}", g.external_id);
                let new =
                    match store::goal::NewGoal::parse(Some(g.external_id.clone()), &title, None, g.profile, max_json) {
                        Ok(new) => new,
                        Err(e) => {
                            report.skip(&g.table, format!("{} goal {}: {}", g.table, g.external_id, e.message()));
                            continue;
                        }
                    };
                let created = store::goal::create(&txn, &learner, new, now).await?;
                counts.imported += 1;
                goals.insert(g.external_id, created);
            }
        }
    }

    // Sessions, by kind and start: a learner does not start two of a kind at one instant. They
    // are ended last, once chat messages have gone into them.
    let mut sessions: HashMap<(SessionKind, DateTime<Utc>), uuid::Uuid> = session::Entity::find()
        .filter(session::Column::LearnerId.eq(learner.id()))
        .all(&*txn)
        .await?
        .into_iter()
        .map(|s| ((s.kind, s.started_at), s.id))
        .collect();
    let mut session_ids: HashMap<String, uuid::Uuid> = HashMap::new();
    let mut to_end = Vec::new();
    for s in incoming.sessions {
        if let Some(id) = sessions.get(&(s.kind, s.started_at)) {
            report.counts(&s.table).present += 1;
            session_ids.insert(s.source_id, *id);
            continue;
        }
        let valid = crate::domain::validate::occurred_at_field("startedAt", Some(s.started_at), now)
            .and_then(|_| crate::domain::validate::occurred_at_field("endedAt", s.ended_at, now));
        if let Err(e) = valid {
            report.skip(&s.table, format!("{} id {}: {}", s.table, s.source_id, e.message()));
            continue;
        }
        if s.ended_at.is_some_and(|end| end < s.started_at) {
            report.skip(&s.table, format!("{} id {}: ended before it started", s.table, s.source_id));
            continue;
        }
        let started = store::session::start(&txn, &learner, s.kind, s.started_at, now).await?;
        let id = started.id;
        if let Some(ended_at) = s.ended_at {
            to_end.push((id, ended_at));
        }
        report.counts(&s.table).imported += 1;
        sessions.insert((s.kind, s.started_at), id);
        session_ids.insert(s.source_id, id);
    }

    for (table, detail) in incoming.details {
        let outcome = write_detail(&txn, &learner, detail, now).await;
        tally(report, &table, &format!("{table} of {}", learner.model().external_id), outcome)?;
    }

    // Events and attempts carry their import keys as idempotency keys.
    let event_keys =
        keys_of::<event::Entity>(&txn, learner.id(), event::Column::LearnerId, event::Column::IdempotencyKey).await?;
    for e in incoming.events {
        if event_keys.contains(&e.key) {
            report.counts(&e.table).present += 1;
            continue;
        }
        let goal_id = match &e.goal_external_id {
            Some(g) => match goals.get(g) {
                Some(goal) => Some(goal.id),
                None => {
                    report.skip(&e.table, format!("{}: goal {g} is not in the source", e.location));
                    continue;
                }
            },
            None => None,
        };
        let at = e.occurred_at.or(Some(now));
        let new = match store::event::NewEvent::parse(&e.kind, Some(e.payload), goal_id, at, Some(e.key), max_json, now)
        {
            Ok(new) => new,
            Err(err) => {
                report.skip(&e.table, format!("{}: {}", e.location, err.message()));
                continue;
            }
        };
        store::event::log(&txn, &learner, new, None, now).await?;
        report.counts(&e.table).imported += 1;
    }

    let attempt_keys =
        keys_of::<attempt::Entity>(&txn, learner.id(), attempt::Column::LearnerId, attempt::Column::IdempotencyKey)
            .await?;
    for a in incoming.attempts {
        if attempt_keys.contains(&a.key) {
            report.counts(&a.table).present += 1;
            continue;
        }
        let session_id = a.session_source_id.as_ref().and_then(|s| session_ids.get(s)).copied();
        let parsed = store::practice::NewAttempt::parse(
            &a.exercise_id,
            a.is_correct,
            a.completed,
            a.activity_type,
            a.objective_id,
            None,
            session_id,
            a.score,
            a.user_answer,
            None,
            a.details,
            Some(a.occurred_at),
            Some(a.key),
            max_json,
            now,
        );
        let new = match parsed {
            Ok(new) => new,
            Err(err) => {
                report.skip(&a.table, format!("{}: {}", a.location, err.message()));
                continue;
            }
        };
        store::practice::record_attempt(&txn, &learner, new, now).await?;
        report.counts(&a.table).imported += 1;
    }

    wellbeing::write(&txn, &learner, incoming.wellbeing, &session_ids, max_json, now, report).await?;
    for (id, ended_at) in to_end {
        // Read again: a reflection may have ended it already.
        let current = session::Entity::find_by_id(id).one(&*txn).await?.ok_or(ApiError::Internal)?;
        store::session::end(&txn, current, ended_at).await?;
    }

    // The streak is what the attempts say; a source's stored one that disagrees is reported.
    if let Some((_, stored)) = incoming.stored_streak {
        let summary = store::practice::summary(&*txn, learner.id()).await?;
        let recomputed = Streak {
            current: match (summary.current_run_start, summary.last_practice_date) {
                (Some(start), Some(last)) => u32::try_from((last - start).num_days() + 1).unwrap_or(0),
                _ => 0,
            },
            longest: summary.longest,
            last: summary.last_practice_date,
        };
        if recomputed != stored {
            report.streak_mismatches.push(StreakMismatch { learner: incoming.external_id.clone(), stored, recomputed });
        }
    }
    if options.dry_run {
        drop(txn);
    } else {
        txn.commit().await?;
    }
    Ok(())
}

/// Counts one row: written, already there, or skipped for a rule it breaks (bad input, or a
/// conflict with what the learner has since done), with where it is and why. Any other failure
/// fails the learner, which is then not imported at all.
fn tally(report: &mut Report, table: &str, location: &str, outcome: ApiResult<bool>) -> ApiResult<()> {
    match outcome {
        Ok(true) => report.counts(table).imported += 1,
        Ok(false) => report.counts(table).present += 1,
        Err(e @ (ApiError::BadInput { .. } | ApiError::Conflict(_))) => {
            report.skip(table, format!("{location}: {}", e.message()));
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Sets one detail unless the learner already has it as the source says; true when written.
async fn write_detail(
    txn: &crate::db::WriteTxn,
    learner: &LearnerScope,
    detail: IncomingDetail,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    use entity::{badge, cognitive_metric, objective_progress, preference};
    use sea_orm::ActiveModelTrait;
    use store::details::{self, ItemKind};
    let id = learner.id();
    match detail {
        IncomingDetail::Preference { category, value } => {
            let (category, value) = (details::key("category", &category)?, details::item("value", &value)?);
            let stored = preference::Entity::find_by_id((id, category.clone())).one(&**txn).await?;
            if stored.is_some_and(|p| p.value == value) {
                return Ok(false);
            }
            details::set_preference(txn, learner, category, value, now).await?;
            Ok(true)
        }
        IncomingDetail::Interest(name) => {
            Ok(details::add_item(txn, learner, ItemKind::Interest, details::item("name", &name)?, now).await?)
        }
        IncomingDetail::Struggle(text) => {
            Ok(details::add_item(txn, learner, ItemKind::Struggle, details::item("description", &text)?, now).await?)
        }
        IncomingDetail::Metric { task_name, metrics } => {
            let task_name = details::key("taskName", &task_name)?;
            let stored = cognitive_metric::Entity::find_by_id((id, task_name.clone())).one(&**txn).await?;
            if stored.is_some_and(|m| m.metrics == metrics) {
                return Ok(false);
            }
            details::record_metric(txn, learner, task_name, metrics, now).await?;
            Ok(true)
        }
        IncomingDetail::Objective { objective_id, status, score, details: extra, started_at, completed_at } => {
            let objective_id = details::key("objectiveId", &objective_id)?;
            let score = details::score("score", score)?;
            let stored = objective_progress::Entity::find_by_id((id, objective_id.clone())).one(&**txn).await?;
            if stored.is_some_and(|o| o.status == status && o.score == score && (extra.is_none() || o.details == extra))
            {
                return Ok(false);
            }
            let update = details::ObjectiveUpdate { objective_id, status, score, details: extra };
            let written = details::update_objective(txn, learner, update, now).await?;
            // The source's own times, where it kept them, rather than the time of the import.
            if started_at.is_some() || completed_at.is_some() {
                let mut row: objective_progress::ActiveModel = written.clone().into();
                if let Some(at) = started_at.filter(|_| written.started_at.is_some()) {
                    row.started_at = sea_orm::Set(Some(at));
                }
                if let Some(at) = completed_at.filter(|_| written.completed_at.is_some()) {
                    row.completed_at = sea_orm::Set(Some(at));
                }
                row.update(&**txn).await?;
            }
            Ok(true)
        }
        IncomingDetail::Badge { badge_id, name, details: extra, earned_at } => {
            let badge_id = details::key("badgeId", &badge_id)?;
            if badge::Entity::find_by_id((id, badge_id.clone())).one(&**txn).await?.is_some() {
                return Ok(false);
            }
            let new = details::NewBadge { badge_id, name: details::item("name", &name)?, details: extra, earned_at };
            Ok(details::award_badge(txn, learner, new, now).await?.1)
        }
    }
}

/// The import keys (`import:…`) a learner's rows of `E` already carry.
async fn keys_of<E: EntityTrait>(
    txn: &crate::db::WriteTxn,
    learner_id: uuid::Uuid,
    learner_column: E::Column,
    key_column: E::Column,
) -> Result<HashSet<String>, ApiError> {
    let keys: Vec<Option<String>> = E::find()
        .select_only()
        .column(key_column)
        .filter(learner_column.eq(learner_id))
        .filter(key_column.starts_with("import:"))
        .into_tuple()
        .all(&**txn)
        .await?;
    Ok(keys.into_iter().flatten().collect())
}

/// Progress as log lines, every 500 learners and at the end.
pub fn log_progress(done: usize, total: usize) {
    if done.is_multiple_of(500) || done == total {
        tracing::info!(learners = done, of = total, "import progress");
    }
}

/// `run_with_progress`, reporting progress as log lines.
pub async fn run(
    state: &AppState,
    source: sources::Source,
    location: &str,
    options: Options,
) -> anyhow::Result<Report> {
    run_with_progress(state, source, location, options, &log_progress).await
}

/// Reads `source` at `location` and imports it, calling `progress(learners done, of)` after each
/// learner. In strict mode, a problem found while reading, or in a dry pass over every learner,
/// stops the import before anything is written.
pub async fn run_with_progress(
    state: &AppState,
    source: sources::Source,
    location: &str,
    options: Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Report> {
    // A large database is read a chunk of learners at a time, so memory stays bounded.
    let chunks = sources::chunks(source, location, options).await?;
    if options.strict {
        // Everything checked first: the reading, then every learner once without committing (a
        // row only the store refuses stops it here). Nothing is written before both pass.
        for chunk in &chunks {
            let mut check = Report::default();
            let learners = sources::read(source, location, options, &mut check, chunk.as_deref()).await?;
            if check.problems.is_empty() && !options.dry_run {
                apply(state, learners, Options { dry_run: true, ..options }, &mut check, &|_, _| {}).await;
            }
            if check.incomplete() {
                let mut why = check.problems;
                why.extend(check.failed_learners.into_iter().map(|(l, w)| format!("learner {l}: {w}")));
                anyhow::bail!("strict: nothing imported; {}", why.join("; "));
            }
        }
    }
    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let total: usize = chunks.iter().map(|c| c.as_ref().map_or(0, Vec::len)).sum();
    let mut done = 0;
    for chunk in &chunks {
        let learners = sources::read(source, location, options, &mut report, chunk.as_deref()).await?;
        let (offset, n) = (done, learners.len());
        let of = if total == 0 { n } else { total };
        apply(state, learners, options, &mut report, &|d, _| progress(offset + d, of)).await;
        done += n;
        if options.strict && report.incomplete() {
            break;
        }
    }
    Ok(report)
}
