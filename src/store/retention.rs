//! Retention: deleting what is kept longer than the settings allow. Every rule is off until its
//! setting is given (`LEARNGRAPH_*_RETENTION_DAYS`):
//!
//! | rule | deletes |
//! |---|---|
//! | inactive learners | learners with nothing written for N days (the learner row, events, attempts, sessions, journal, chat, conversation states, reflections, profiling), erased entirely with an erasure record |
//! | events | events that occurred more than N days ago |
//! | chat messages | messages older than N days, and chat posts left without a newer message |
//! | conversation states | states not updated for N days |
//! | practice | attempts that occurred more than N days ago, PRACTICE sessions started more than N days ago (with their attempts); practice days, exercise statistics, session counters and streaks are rebuilt from what remains |
//!
//! A sweep works learner by learner in transactions of at most `batch` rows, so it never holds
//! SQLite's write lock for long and writers interleave with it. A dry run counts with the same
//! conditions and changes nothing; a real run deletes exactly what a dry run at the same instant
//! reports. Inactive learners go first; the other rules skip them (their rows are counted once,
//! under erasure).

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::audit::Actor;
use super::registry::{LEARNER_TABLES, LEARNERS};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};

/// The retention settings.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub inactive_learner_days: Option<u32>,
    pub event_days: Option<u32>,
    pub chat_message_days: Option<u32>,
    pub conversation_state_days: Option<u32>,
    pub practice_days: Option<u32>,
    pub activity_days: Option<u32>,
    /// Most rows deleted in one transaction.
    pub batch: u64,
}

impl Policy {
    pub fn from_config(c: &Config) -> Policy {
        Policy {
            inactive_learner_days: c.inactive_learner_retention_days,
            event_days: c.event_retention_days,
            chat_message_days: c.chat_retention_days,
            conversation_state_days: c.conversation_state_retention_days,
            practice_days: c.practice_retention_days,
            activity_days: c.activity_retention_days,
            batch: Ord::max(c.retention_batch_rows, 1),
        }
    }

    pub fn is_off(&self) -> bool {
        self.inactive_learner_days.is_none()
            && self.event_days.is_none()
            && self.chat_message_days.is_none()
            && self.conversation_state_days.is_none()
            && self.practice_days.is_none()
            && self.activity_days.is_none()
    }
}

/// What one rule deleted (or would delete) from one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub rule: &'static str,
    pub table: &'static str,
    pub rows: u64,
    pub learners: u64,
}

/// The outcome of a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub dry_run: bool,
    pub lines: Vec<Line>,
}

impl Report {
    pub fn rows(&self) -> u64 {
        self.lines.iter().map(|l| l.rows).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would delete" } else { "deleted" };
        writeln!(f, "{:<20} {:<24} {:>10} {:>9}", "rule", "table", "rows", "learners")?;
        for l in &self.lines {
            writeln!(f, "{:<20} {:<24} {:>10} {:>9}", l.rule, l.table, l.rows, l.learners)?;
        }
        write!(f, "{} {} rows{}", verb, self.rows(), if self.dry_run { " (dry run: nothing changed)" } else { "" })
    }
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

fn tcol(table: &str, name: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(name)))
}

fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(days))
}

/// The tables and columns whose writes count as a learner's activity.
const ACTIVITY: &[(&str, &str)] = &[
    ("events", "created_at"),
    ("attempts", "created_at"),
    ("sessions", "created_at"),
    ("goals", "updated_at"),
    ("journal_entries", "updated_at"),
    ("chat_messages", "created_at"),
    ("conversation_states", "updated_at"),
    ("meditation_reflections", "created_at"),
    ("profiling_sessions", "started_at"),
    ("portfolio_items", "updated_at"),
];

/// Learners with nothing written since `before`.
fn inactive(before: DateTime<Utc>) -> Condition {
    let mut c =
        Condition::all().add(tcol(LEARNERS, "created_at").lt(before)).add(tcol(LEARNERS, "updated_at").lt(before));
    for (table, at) in ACTIVITY {
        let recent = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(*table))
            .and_where(tcol(table, "learner_id").equals((Alias::new(LEARNERS), Alias::new("id"))))
            .and_where(tcol(table, at).gte(before))
            .to_owned();
        c = c.add(Expr::exists(recent).not());
    }
    c
}

/// One table-level rule: rows of `table` matching `when`, deleted per learner by `key`.
struct Rule {
    rule: &'static str,
    table: &'static str,
    key: &'static str,
    when: Condition,
    /// Attempts: deleted through `practice::forget_attempts`, which takes them out of the counters.
    counted: bool,
}

fn rules(policy: &Policy, now: DateTime<Utc>) -> Vec<Rule> {
    let mut rules = Vec::new();
    if let Some(days) = policy.practice_days {
        let before = cutoff(now, days);
        let old_sessions = || {
            Query::select()
                .column(Alias::new("id"))
                .from(Alias::new("sessions"))
                .and_where(col("kind").eq("PRACTICE"))
                .and_where(col("started_at").lt(before))
                .to_owned()
        };
        rules.push(Rule {
            rule: "practice",
            table: "attempts",
            key: "id",
            when: Condition::any()
                .add(col("occurred_at").lt(before))
                .add(col("session_id").in_subquery(old_sessions())),
            counted: true,
        });
        rules.push(Rule {
            rule: "practice",
            table: "sessions",
            key: "id",
            when: Condition::all().add(col("kind").eq("PRACTICE")).add(col("started_at").lt(before)),
            counted: false,
        });
    }
    if let Some(days) = policy.event_days {
        let when = Condition::all().add(col("occurred_at").lt(cutoff(now, days)));
        rules.push(Rule { rule: "events", table: "events", key: "id", when, counted: false });
    }
    if let Some(days) = policy.chat_message_days {
        let before = cutoff(now, days);
        rules.push(Rule {
            rule: "chat messages",
            table: "chat_messages",
            key: "id",
            when: Condition::all().add(col("created_at").lt(before)),
            counted: false,
        });
        let newer = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("chat_messages"))
            .and_where(tcol("chat_messages", "post_id").equals((Alias::new("chat_posts"), Alias::new("id"))))
            .and_where(tcol("chat_messages", "created_at").gte(before))
            .to_owned();
        rules.push(Rule {
            rule: "chat messages",
            table: "chat_posts",
            key: "id",
            when: Condition::all().add(tcol("chat_posts", "created_at").lt(before)).add(Expr::exists(newer).not()),
            counted: false,
        });
    }
    if let Some(days) = policy.conversation_state_days {
        let when = Condition::all().add(col("updated_at").lt(cutoff(now, days)));
        rules.push(Rule {
            rule: "conversation states",
            table: "conversation_states",
            key: "session_key",
            when,
            counted: false,
        });
    }
    if let Some(days) = policy.activity_days {
        let when = Condition::all().add(col("occurred_at").lt(cutoff(now, days)));
        rules.push(Rule { rule: "activity feed", table: "activities", key: "id", when, counted: false });
    }
    rules
}

/// Runs the sweep (or, with `dry_run`, counts it). Writes take `gate`'s turn like every writer.
pub async fn sweep(
    db: &DatabaseConnection,
    gate: &std::sync::Arc<tokio::sync::Semaphore>,
    policy: &Policy,
    now: DateTime<Utc>,
    dry_run: bool,
) -> ApiResult<Report> {
    let mut lines = Vec::new();
    // Learners the inactive rule erases; the other rules leave them to it.
    let not_inactive = |c: Condition| -> Condition {
        match policy.inactive_learner_days {
            Some(days) => {
                let gone = Query::select()
                    .column((Alias::new(LEARNERS), Alias::new("id")))
                    .from(Alias::new(LEARNERS))
                    .cond_where(inactive(cutoff(now, days)))
                    .to_owned();
                c.add(col("learner_id").not_in_subquery(gone))
            }
            None => c,
        }
    };
    if let Some(days) = policy.inactive_learner_days {
        lines.extend(erase_inactive(db, gate, cutoff(now, days), now, dry_run).await?);
    }
    for rule in rules(policy, now) {
        let when = not_inactive(Condition::all().add(rule.when.clone()));
        let (rows, learners) = if dry_run {
            count(db, rule.table, when).await?
        } else {
            delete(db, gate, &rule, when, policy.batch).await?
        };
        lines.push(Line { rule: rule.rule, table: rule.table, rows, learners });
    }
    Ok(Report { dry_run, lines })
}

/// Rows matching `when`, and their learners.
async fn count(db: &DatabaseConnection, table: &str, when: Condition) -> ApiResult<(u64, u64)> {
    let q = Query::select()
        .expr_as(Func::count(Expr::col(sea_orm::sea_query::Asterisk)), Alias::new("n"))
        .expr_as(Func::count_distinct(col("learner_id")), Alias::new("l"))
        .from(Alias::new(table))
        .cond_where(when)
        .to_owned();
    let row = db.query_one(&q).await?.ok_or(ApiError::Internal)?;
    let n: i64 = row.try_get("", "n")?;
    let l: i64 = row.try_get("", "l")?;
    Ok((u64::try_from(n).unwrap_or(0), u64::try_from(l).unwrap_or(0)))
}

/// Deletes the rows of a rule learner by learner, at most `batch` per transaction.
async fn delete(
    db: &DatabaseConnection,
    gate: &std::sync::Arc<tokio::sync::Semaphore>,
    rule: &Rule,
    when: Condition,
    batch: u64,
) -> ApiResult<(u64, u64)> {
    let learners = learners_with(db, rule.table, when.clone()).await?;
    let (mut rows, mut touched) = (0, 0);
    for learner in learners {
        let mut mine = 0;
        loop {
            let txn = crate::db::begin_write(db, gate).await?;
            let n = if rule.counted {
                super::practice::forget_attempts(&txn, learner, when.clone(), batch).await?
            } else {
                let keys: SelectStatement = Query::select()
                    .column(Alias::new(rule.key))
                    .from(Alias::new(rule.table))
                    .and_where(col("learner_id").eq(learner))
                    .cond_where(when.clone())
                    .limit(batch)
                    .to_owned();
                let delete = Query::delete()
                    .from_table(Alias::new(rule.table))
                    .and_where(col("learner_id").eq(learner))
                    .and_where(col(rule.key).in_subquery(keys))
                    .to_owned();
                txn.execute(&delete).await?.rows_affected()
            };
            txn.commit().await?;
            mine += n;
            if n < batch {
                break;
            }
        }
        rows += mine;
        touched += u64::from(mine > 0);
    }
    Ok((rows, touched))
}

/// The learners with rows matching `when`.
async fn learners_with(db: &DatabaseConnection, table: &str, when: Condition) -> ApiResult<BTreeSet<Uuid>> {
    let q =
        Query::select().distinct().column(Alias::new("learner_id")).from(Alias::new(table)).cond_where(when).to_owned();
    let mut out = BTreeSet::new();
    for row in db.query_all(&q).await? {
        out.insert(row.try_get::<Uuid>("", "learner_id")?);
    }
    Ok(out)
}

/// The inactive-learner rule: each learner erased in its own transaction (re-checked inside it,
/// so a learner that became active meanwhile stays), with an erasure record by `retention`.
async fn erase_inactive(
    db: &DatabaseConnection,
    gate: &std::sync::Arc<tokio::sync::Semaphore>,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> ApiResult<Vec<Line>> {
    let which = || learner::Entity::find().filter(inactive(before));
    if dry_run {
        let gone = || {
            Query::select()
                .column((Alias::new(LEARNERS), Alias::new("id")))
                .from(Alias::new(LEARNERS))
                .cond_where(inactive(before))
                .to_owned()
        };
        let mut lines = Vec::new();
        for table in LEARNER_TABLES.iter().rev() {
            let (rows, learners) =
                count(db, table.name, Condition::all().add(col("learner_id").in_subquery(gone()))).await?;
            if rows > 0 {
                lines.push(Line { rule: "inactive learners", table: table.name, rows, learners });
            }
        }
        let n = which().all(db).await?.len() as u64;
        lines.push(Line { rule: "inactive learners", table: LEARNERS, rows: n, learners: n });
        return Ok(lines);
    }
    let by = Actor::system("retention");
    let mut per_table: Vec<(u64, u64)> = vec![(0, 0); LEARNER_TABLES.len()];
    let mut erased = 0;
    for candidate in which().all(db).await? {
        let txn = crate::db::begin_write(db, gate).await?;
        let Some(row) = which().filter(sea_orm::ColumnTrait::eq(&learner::Column::Id, candidate.id)).one(&*txn).await?
        else {
            continue;
        };
        let counts = super::registry::erase(&txn, &row, &by, "retention", now).await?;
        txn.commit().await?;
        for (slot, n) in per_table.iter_mut().zip(counts) {
            slot.0 += n;
            slot.1 += u64::from(n > 0);
        }
        erased += 1;
        tracing::info!(learner_id = %row.id, "retention erased an inactive learner");
    }
    let mut lines: Vec<Line> = LEARNER_TABLES
        .iter()
        .zip(per_table)
        .rev()
        .filter(|(_, (rows, _))| *rows > 0)
        .map(|(t, (rows, learners))| Line { rule: "inactive learners", table: t.name, rows, learners })
        .collect();
    lines.push(Line { rule: "inactive learners", table: LEARNERS, rows: erased, learners: erased });
    Ok(lines)
}
