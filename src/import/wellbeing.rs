//! The wellbeing companion's tables (a PostgreSQL database): profiles, agent conversation state,
//! chat sessions and messages, mentor selections, journal entries with follow-ups, meditation
//! sessions and reflections.
//!
//! Every row goes through the store function the API uses, given the source's own time as the
//! time of the write, so a message, an entry or a reflection keeps the time it was made. A row is
//! found again on a re-run by its source id (an idempotency key `import:wellbeing-db:…` on chat
//! messages and journal entries), by its natural key (a conversation state's session key, a
//! mentor selection's session, mentor and time, a session's kind and start, the one reflection of
//! a meditation session, a follow-up's entry, question and answer), so nothing is written twice.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use entity::chat_message::ChatRole;
use entity::journal_entry::{self, JournalSource};
use entity::session::SessionKind;
use entity::{conversation_state, journal_follow_up, learner, meditation_reflection, mentor_selection};
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryResult, Statement};
use serde_json::Value;

use super::sources::{Learners, connect_source, need, number, text, time_text, users_in};
use super::{IncomingSession, Report, tally};
use crate::db::WriteTxn;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::LearnerScope;
use crate::store::companion::{self, MAX_MESSAGE_CHARS, NewMessage, NewReflection, NewState};
use crate::store::idempotent::Stored;
use crate::store::journal::{self, MAX_FOLLOW_UP_CHARS, MAX_TAG_CHARS, NewEntry, NewFollowUp, Synthesis};
use crate::store::learner::{LearnerChanges, Settings, SettingsChanges};

/// The tables that name a user, with the column that does: the chunks of an import are made of
/// these users.
pub(super) const USER_COLUMNS: &[(&str, &str)] = &[
    ("user_profiles", "id"),
    ("conversation_history", "user_id"),
    ("chat_sessions", "user_id"),
    ("mentor_selections", "user_id"),
    ("journal_entries", "user_id"),
    ("meditation_sessions", "user_id"),
];

/// The prefix of the idempotency keys this source writes.
const KEY: &str = "import:wellbeing-db";

/// One learner's rows of the wellbeing tables (its sessions go with the learner's other sessions).
#[derive(Debug, Default)]
pub struct Wellbeing {
    profile: Option<Profile>,
    states: Vec<State>,
    messages: Vec<Message>,
    mentors: Vec<Mentor>,
    entries: Vec<Entry>,
    follow_ups: Vec<FollowUp>,
    reflections: Vec<Reflection>,
}

#[derive(Debug)]
struct Profile {
    location: String,
    display_name: Option<String>,
    bio: Option<String>,
    meditation_minutes: Option<i32>,
    mentor_category: Option<String>,
    theme: Option<String>,
}

#[derive(Debug)]
struct State {
    location: String,
    session_key: String,
    state: Value,
    last_agent: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Message {
    location: String,
    id: String,
    session: String,
    role: String,
    content: String,
    persona: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Mentor {
    location: String,
    session: Option<String>,
    mentor_id: String,
    keywords: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Entry {
    location: String,
    id: String,
    content: String,
    embedding: Option<Vec<f64>>,
    mood_tags: Vec<String>,
    created_at: DateTime<Utc>,
    /// A follow-up names it as the entry it synthesized.
    synthesized: bool,
}

#[derive(Debug)]
struct FollowUp {
    location: String,
    entry: String,
    question: String,
    answer: String,
    synthesized: Option<String>,
}

#[derive(Debug)]
struct Reflection {
    location: String,
    session: String,
    duration: Option<i32>,
    text: String,
    insight: Option<String>,
    emotional_state: Option<String>,
    /// When the meditation ended (its `completed_at`, else its start plus its duration).
    ended_at: DateTime<Utc>,
}

/// The source id of a chat or meditation session, as the learner's sessions are keyed.
fn chat(id: &str) -> String {
    format!("chat_sessions:{id}")
}

fn meditation(id: &str) -> String {
    format!("meditation_sessions:{id}")
}

async fn rows(db: &DatabaseConnection, table: &str, sql: String) -> anyhow::Result<Vec<QueryResult>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .with_context(|| format!("reading {table}"))
}

/// A required time column.
fn when(row: &QueryResult, column: &str) -> Result<DateTime<Utc>, String> {
    let value = need(row, column)?;
    time_text(&value).ok_or_else(|| format!("{column} {value:?} is not a time"))
}

/// An optional time column.
fn when_given(row: &QueryResult, column: &str) -> Result<Option<DateTime<Utc>>, String> {
    text(row, column).map(|v| time_text(&v).ok_or_else(|| format!("{column} {v:?} is not a time"))).transpose()
}

/// Minutes as an integer column.
fn minutes(row: &QueryResult, column: &str) -> Result<Option<i32>, String> {
    match number(row, column)? {
        Some(m) if m.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&m) => Ok(Some(m as i32)),
        Some(m) => Err(format!("{column} {m} is not a whole number of minutes")),
        None => Ok(None),
    }
}

/// When a meditation session ended: its `completed_at`, else its start plus its duration.
fn ended(created_at: DateTime<Utc>, completed_at: Option<DateTime<Utc>>, duration: Option<i32>) -> DateTime<Utc> {
    completed_at.unwrap_or_else(|| created_at + TimeDelta::minutes(i64::from(duration.unwrap_or(0).max(0))))
}

/// `<table> id <id>`: where a row is, for the report.
fn by_id(table: &str, row: &QueryResult) -> String {
    format!("{table} id {}", text(row, "id").unwrap_or_default())
}

/// Hands the rows read to their learners.
struct Rows<'a> {
    learners: &'a mut Learners,
    report: &'a mut Report,
}

impl Rows<'_> {
    /// Counts each row of `table`; gives what `parse` makes of it (its user, and the value) to the
    /// user's learner through `put`, or skips it with where it is (`located`) and why.
    fn each<T>(
        &mut self,
        table: &str,
        rows: Vec<QueryResult>,
        located: impl Fn(&str, &QueryResult) -> String,
        parse: impl Fn(&QueryResult, String) -> Result<(String, T), String>,
        put: impl Fn(&mut super::Incoming, T),
    ) {
        for row in rows {
            self.report.counts(table).read += 1;
            let location = located(table, &row);
            match parse(&row, location.clone()) {
                Ok((user, value)) => put(self.learners.of(&user), value),
                Err(why) => self.report.skip(table, format!("{location}: {why}")),
            }
        }
    }
}

/// The source database, which must be PostgreSQL.
pub(super) async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "wellbeing-db reads the wellbeing tables in a PostgreSQL database: give a postgres:// URL"
    );
    connect_source(url).await
}

/// Reads the rows of `users` (all for `None`). A table the database does not have is left out;
/// rows are read in the order they were made.
pub(super) async fn read(
    url: &str,
    learners: &mut Learners,
    report: &mut Report,
    users: Option<&[String]>,
) -> anyhow::Result<()> {
    let db = connect(url).await?;
    let mut present = std::collections::HashSet::new();
    for (table, _) in
        USER_COLUMNS.iter().chain(&[("chat_messages", ""), ("journal_followups", ""), ("meditation_reflections", "")])
    {
        let sql = format!("SELECT CAST(to_regclass('{table}') AS TEXT) AS found");
        if rows(&db, table, sql).await?.first().and_then(|r| text(r, "found")).is_some() {
            present.insert(*table);
        }
    }
    let only = |column: &str| users_in(column, users).map_or_else(String::new, |c| format!(" WHERE {c}"));
    let mut rows_of = Rows { learners, report };

    if present.contains("user_profiles") {
        let sql = format!(
            "SELECT CAST(id AS TEXT) AS id, CAST(display_name AS TEXT) AS display_name, CAST(bio AS TEXT) AS bio, \
             CAST(preferred_meditation_duration AS TEXT) AS minutes, CAST(preferred_mentor_category AS TEXT) AS category, \
             CAST(theme_preference AS TEXT) AS theme FROM user_profiles{} ORDER BY id",
            only("id")
        );
        let profiles = rows(&db, "user_profiles", sql).await?;
        rows_of.each(
            "user_profiles",
            profiles,
            by_id,
            |row, location| {
                let profile = Profile {
                    location,
                    display_name: text(row, "display_name"),
                    bio: text(row, "bio"),
                    meditation_minutes: minutes(row, "minutes")?,
                    mentor_category: text(row, "category"),
                    theme: text(row, "theme"),
                };
                Ok((need(row, "id")?, profile))
            },
            |w, p| w.wellbeing.profile = Some(p),
        );
    }

    if present.contains("conversation_history") {
        let sql = format!(
            "SELECT CAST(user_id AS TEXT) AS user_id, CAST(session_key AS TEXT) AS session_key, \
             CAST(agent_state AS TEXT) AS agent_state, CAST(last_agent AS TEXT) AS last_agent, \
             CAST(updated_at AS TEXT) AS updated_at FROM conversation_history{} ORDER BY 1, 2",
            only("user_id")
        );
        let states = rows(&db, "conversation_history", sql).await?;
        let located = |table: &str, row: &QueryResult| {
            let (user, key) = (text(row, "user_id").unwrap_or_default(), text(row, "session_key").unwrap_or_default());
            format!("{table} user_id {user} session_key {key:?}")
        };
        rows_of.each(
            "conversation_history",
            states,
            located,
            |row, location| {
                let raw = need(row, "agent_state")?;
                let state = State {
                    location,
                    session_key: text(row, "session_key").unwrap_or_default(),
                    state: serde_json::from_str(&raw).map_err(|_| "agent_state is not JSON".to_owned())?,
                    last_agent: text(row, "last_agent"),
                    updated_at: when_given(row, "updated_at")?,
                };
                Ok((need(row, "user_id")?, state))
            },
            |w, s| w.wellbeing.states.push(s),
        );
    }

    if present.contains("chat_sessions") {
        let sql = format!(
            "SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(started_at AS TEXT) AS started_at, \
             CAST(ended_at AS TEXT) AS ended_at FROM chat_sessions{} ORDER BY started_at, id",
            only("user_id")
        );
        let sessions = rows(&db, "chat_sessions", sql).await?;
        rows_of.each(
            "chat_sessions",
            sessions,
            by_id,
            |row, _| {
                let session = IncomingSession {
                    table: "chat_sessions".to_owned(),
                    kind: SessionKind::Chat,
                    source_id: chat(&text(row, "id").unwrap_or_default()),
                    started_at: when(row, "started_at")?,
                    ended_at: when_given(row, "ended_at")?,
                };
                Ok((need(row, "user_id")?, session))
            },
            |w, s| w.sessions.push(s),
        );
    }

    if present.contains("chat_messages") && present.contains("chat_sessions") {
        let sql = format!(
            "SELECT CAST(m.id AS TEXT) AS id, CAST(s.user_id AS TEXT) AS user_id, CAST(m.session_id AS TEXT) AS session_id, \
             CAST(m.role AS TEXT) AS role, CAST(m.content AS TEXT) AS content, CAST(m.agent_persona AS TEXT) AS persona, \
             CAST(m.created_at AS TEXT) AS created_at FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id{} \
             ORDER BY m.session_id, m.created_at, m.id",
            only("s.user_id")
        );
        let messages = rows(&db, "chat_messages", sql).await?;
        rows_of.each(
            "chat_messages",
            messages,
            by_id,
            |row, location| {
                let message = Message {
                    location,
                    id: text(row, "id").unwrap_or_default(),
                    session: chat(&need(row, "session_id")?),
                    role: need(row, "role")?,
                    content: text(row, "content").unwrap_or_default(),
                    persona: text(row, "persona"),
                    created_at: when(row, "created_at")?,
                };
                Ok((need(row, "user_id")?, message))
            },
            |w, m| w.wellbeing.messages.push(m),
        );
    }

    if present.contains("mentor_selections") {
        let sql = format!(
            "SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(session_id AS TEXT) AS session_id, \
             CAST(mentor_id AS TEXT) AS mentor_id, CAST(context_keywords AS TEXT) AS keywords, \
             CAST(created_at AS TEXT) AS created_at FROM mentor_selections{} ORDER BY created_at, id",
            only("user_id")
        );
        let mentors = rows(&db, "mentor_selections", sql).await?;
        rows_of.each(
            "mentor_selections",
            mentors,
            by_id,
            |row, location| {
                let mentor = Mentor {
                    location,
                    session: text(row, "session_id").map(|s| chat(&s)),
                    mentor_id: need(row, "mentor_id")?,
                    keywords: text(row, "keywords"),
                    created_at: when(row, "created_at")?,
                };
                Ok((need(row, "user_id")?, mentor))
            },
            |w, m| w.wellbeing.mentors.push(m),
        );
    }

    if present.contains("journal_entries") {
        let synthesized = if present.contains("journal_followups") {
            "CAST(EXISTS (SELECT 1 FROM journal_followups f WHERE f.synthesized_entry_id = e.id) AS TEXT)"
        } else {
            "'false'"
        };
        // to_json reads mood tags kept as text[] (as planned) or as JSON alike.
        let sql = format!(
            "SELECT CAST(e.id AS TEXT) AS id, CAST(e.user_id AS TEXT) AS user_id, CAST(e.content AS TEXT) AS content, \
             CAST(e.embedding AS TEXT) AS embedding, CAST(to_json(e.mood_tags) AS TEXT) AS mood_tags, \
             CAST(e.created_at AS TEXT) AS created_at, {synthesized} AS synthesized FROM journal_entries e{} \
             ORDER BY e.created_at, e.id",
            only("e.user_id")
        );
        let entries = rows(&db, "journal_entries", sql).await?;
        rows_of.each(
            "journal_entries",
            entries,
            by_id,
            |row, location| {
                let embedding = match text(row, "embedding") {
                    None => None,
                    Some(v) => Some(
                        serde_json::from_str::<Vec<f64>>(&v)
                            .map_err(|_| "embedding is not a list of numbers".to_owned())?,
                    ),
                };
                let mood_tags = match text(row, "mood_tags") {
                    None => Vec::new(),
                    Some(v) => serde_json::from_str::<Option<Vec<String>>>(&v)
                        .map_err(|_| format!("mood_tags {v} is not a list of text"))?
                        .unwrap_or_default(),
                };
                let entry = Entry {
                    location,
                    id: text(row, "id").unwrap_or_default(),
                    content: text(row, "content").unwrap_or_default(),
                    embedding,
                    mood_tags,
                    created_at: when(row, "created_at")?,
                    synthesized: text(row, "synthesized").as_deref() == Some("true"),
                };
                Ok((need(row, "user_id")?, entry))
            },
            |w, e| w.wellbeing.entries.push(e),
        );
    }

    if present.contains("journal_followups") && present.contains("journal_entries") {
        let sql = format!(
            "SELECT CAST(f.id AS TEXT) AS id, CAST(e.user_id AS TEXT) AS user_id, CAST(f.original_entry_id AS TEXT) AS entry_id, \
             CAST(f.follow_up_question AS TEXT) AS question, CAST(f.follow_up_answer AS TEXT) AS answer, \
             CAST(f.synthesized_entry_id AS TEXT) AS synthesized FROM journal_followups f \
             JOIN journal_entries e ON e.id = f.original_entry_id{} ORDER BY f.id",
            only("e.user_id")
        );
        let follow_ups = rows(&db, "journal_followups", sql).await?;
        rows_of.each(
            "journal_followups",
            follow_ups,
            by_id,
            |row, location| {
                let follow_up = FollowUp {
                    location,
                    entry: need(row, "entry_id").map_err(|_| "original_entry_id is missing".to_owned())?,
                    question: text(row, "question").unwrap_or_default(),
                    answer: text(row, "answer").unwrap_or_default(),
                    synthesized: text(row, "synthesized"),
                };
                Ok((need(row, "user_id")?, follow_up))
            },
            |w, f| w.wellbeing.follow_ups.push(f),
        );
    }

    if present.contains("meditation_sessions") {
        let sql = format!(
            "SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(duration AS TEXT) AS duration, \
             CAST(CAST(completed AS INTEGER) AS TEXT) AS completed, CAST(completed_at AS TEXT) AS completed_at, \
             CAST(created_at AS TEXT) AS created_at FROM meditation_sessions{} ORDER BY created_at, id",
            only("user_id")
        );
        let sessions = rows(&db, "meditation_sessions", sql).await?;
        rows_of.each(
            "meditation_sessions",
            sessions,
            by_id,
            |row, _| {
                let started_at = when(row, "created_at")?;
                let completed_at = when_given(row, "completed_at")?;
                let duration = minutes(row, "duration")?;
                // A session not completed stays open, as the source left it.
                let completed = text(row, "completed").as_deref() == Some("1") || completed_at.is_some();
                let session = IncomingSession {
                    table: "meditation_sessions".to_owned(),
                    kind: SessionKind::Meditation,
                    source_id: meditation(&text(row, "id").unwrap_or_default()),
                    started_at,
                    ended_at: completed.then(|| ended(started_at, completed_at, duration)),
                };
                Ok((need(row, "user_id")?, session))
            },
            |w, s| w.sessions.push(s),
        );
    }

    if present.contains("meditation_reflections") && present.contains("meditation_sessions") {
        let sql = format!(
            "SELECT CAST(r.id AS TEXT) AS id, CAST(s.user_id AS TEXT) AS user_id, CAST(r.session_id AS TEXT) AS session_id, \
             CAST(r.reflection_text AS TEXT) AS reflection, CAST(r.ai_insight AS TEXT) AS insight, \
             CAST(r.emotional_state AS TEXT) AS emotional_state, CAST(s.duration AS TEXT) AS duration, \
             CAST(s.completed_at AS TEXT) AS completed_at, CAST(s.created_at AS TEXT) AS created_at \
             FROM meditation_reflections r JOIN meditation_sessions s ON s.id = r.session_id{} ORDER BY r.id",
            only("s.user_id")
        );
        let reflections = rows(&db, "meditation_reflections", sql).await?;
        rows_of.each(
            "meditation_reflections",
            reflections,
            by_id,
            |row, location| {
                let duration = minutes(row, "duration")?;
                let reflection = Reflection {
                    location,
                    session: meditation(&need(row, "session_id")?),
                    duration,
                    text: text(row, "reflection").unwrap_or_default(),
                    insight: text(row, "insight"),
                    emotional_state: text(row, "emotional_state"),
                    ended_at: ended(when(row, "created_at")?, when_given(row, "completed_at")?, duration),
                };
                Ok((need(row, "user_id")?, reflection))
            },
            |w, r| w.wellbeing.reflections.push(r),
        );
    }
    db.close().await.ok();
    Ok(())
}

/// A source time, which must not lie in the future.
fn at(field: &str, value: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    validate::occurred_at_field(field, Some(value), now)
}

/// Text that must not be blank.
fn filled(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    validate::text(field, value, max)
}

/// A row naming a session that was skipped.
fn not_imported(session: &str) -> ApiError {
    let (table, id) = session.split_once(':').unwrap_or(("sessions", session));
    ApiError::bad_input("session_id", format!("{table} id {id} was not imported"))
}

fn opt_key(field: &str, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    value.map(|v| validate::key(field, &v, max)).transpose()
}

/// Writes one learner's wellbeing rows in the learner's transaction. `sessions` maps the source's
/// session ids to the learner's sessions (open until the caller ends them, so messages can go in).
pub(super) async fn write(
    txn: &WriteTxn,
    learner: &LearnerScope,
    w: Wellbeing,
    sessions: &HashMap<String, Uuid>,
    max_json: usize,
    now: DateTime<Utc>,
    report: &mut Report,
) -> ApiResult<()> {
    let id = learner.id();
    if let Some(p) = w.profile {
        let outcome = async {
            let current = learner::Entity::find_by_id(id).one(&**txn).await?.ok_or(ApiError::Internal)?;
            let settings = Settings::of(&current)?;
            // Only what the source has and the learner does not: a value the source left empty
            // clears nothing.
            fn differs<T: PartialEq>(current: &Option<T>, new: Option<T>) -> Option<Option<T>> {
                new.filter(|n| current.as_ref() != Some(n)).map(Some)
            }
            let display_name = p.display_name.map(|n| validate::text("display_name", &n, validate::MAX_NAME_CHARS));
            let bio = p.bio.map(|b| validate::text("bio", &b, validate::MAX_TEXT_CHARS));
            let changes = SettingsChanges::parse(
                differs(&settings.theme, p.theme),
                differs(&settings.preferred_meditation_minutes, p.meditation_minutes),
                differs(&settings.preferred_mentor_category, p.mentor_category),
            )?;
            let changes = LearnerChanges {
                display_name: differs(&current.display_name, display_name.transpose()?),
                bio: differs(&current.bio, bio.transpose()?),
                time_zone: None,
                settings: (changes.theme.is_some()
                    || changes.preferred_meditation_minutes.is_some()
                    || changes.preferred_mentor_category.is_some())
                .then_some(changes),
            };
            if changes.display_name.is_none() && changes.bio.is_none() && changes.settings.is_none() {
                return Ok(false);
            }
            crate::store::learner::update(txn, &current, changes, now).await?;
            Ok(true)
        }
        .await;
        tally(report, "user_profiles", &p.location, outcome)?;
    }

    // A session key the learner already has keeps its state: it is the learner's newer one, or
    // this one from an earlier run.
    for s in w.states {
        let outcome = async {
            let session_key = companion::session_key(Some(s.session_key))?;
            validate::json_size("agent_state", &s.state, max_json)?;
            let last_agent = opt_key("last_agent", s.last_agent, validate::MAX_KEY_CHARS)?;
            let updated_at = at("updated_at", s.updated_at.unwrap_or(now), now)?;
            if conversation_state::Entity::find_by_id((id, session_key.clone())).one(&**txn).await?.is_some() {
                return Ok(false);
            }
            let new = NewState { session_key, state: s.state, last_agent, expected_version: Some(0) };
            companion::save_state(txn, learner, new, crate::graphql::companion::MAX_STATES, updated_at).await?;
            Ok(true)
        }
        .await;
        tally(report, "conversation_history", &s.location, outcome)?;
    }

    let mut entries: HashMap<String, journal_entry::Model> = HashMap::new();
    for e in w.entries {
        let source_id = e.id.clone();
        let outcome = async {
            let new = NewEntry {
                content: filled("content", &e.content, journal::MAX_CONTENT_CHARS)?,
                mood_tags: journal::mood_tags("mood_tags", e.mood_tags)?,
                embedding: e.embedding.as_deref().map(|v| journal::embedding("embedding", v)).transpose()?,
                source: if e.synthesized { JournalSource::Synthesis } else { JournalSource::Manual },
                idempotency_key: Some(format!("{KEY}:journal_entry:{}", e.id)),
            };
            let created_at = at("created_at", e.created_at, now)?;
            Ok(match journal::create(txn, learner, new, created_at).await? {
                Stored::New(entry) => (entry, true),
                Stored::Replayed(entry) => (entry, false),
            })
        }
        .await;
        let outcome = outcome.map(|(entry, new)| {
            entries.insert(source_id, entry);
            new
        });
        tally(report, "journal_entries", &e.location, outcome)?;
    }

    // Follow-ups have no key of their own: one is there when its entry has as many follow-ups
    // with its question and answer as the source has up to it.
    let mut stored: HashMap<(Uuid, String, String), usize> = HashMap::new();
    if !w.follow_ups.is_empty() {
        for f in
            journal_follow_up::Entity::find().filter(journal_follow_up::Column::LearnerId.eq(id)).all(&**txn).await?
        {
            *stored.entry((f.entry_id, f.question, f.answer)).or_default() += 1;
        }
    }
    let mut seen: HashMap<(Uuid, String, String), usize> = HashMap::new();
    for f in w.follow_ups {
        let outcome = async {
            let missing =
                |field: &str, id: &str| ApiError::bad_input(field, format!("journal entry {id} was not imported"));
            let entry = entries.get(&f.entry).ok_or_else(|| missing("original_entry_id", &f.entry))?;
            let synthesized = match &f.synthesized {
                Some(s) => Some(entries.get(s).ok_or_else(|| missing("synthesized_entry_id", s))?.clone()),
                None => None,
            };
            let question = filled("follow_up_question", &f.question, MAX_FOLLOW_UP_CHARS)?;
            let answer = filled("follow_up_answer", &f.answer, MAX_FOLLOW_UP_CHARS)?;
            let natural = (entry.id, question.clone(), answer.clone());
            let n = seen.entry(natural.clone()).or_default();
            *n += 1;
            if *n <= stored.get(&natural).copied().unwrap_or(0) {
                return Ok(false);
            }
            // The source kept no time: the follow-up is as old as what it synthesized, else as
            // its entry.
            let created_at = synthesized.as_ref().map_or(entry.created_at, |s| s.created_at);
            let new = NewFollowUp { question, answer, synthesized: synthesized.map(Synthesis::Stored) };
            journal::add_follow_up(txn, learner, entry, new, created_at).await?;
            Ok(true)
        }
        .await;
        tally(report, "journal_followups", &f.location, outcome)?;
    }

    for m in w.messages {
        let outcome = async {
            let session = *sessions.get(&m.session).ok_or_else(|| not_imported(&m.session))?;
            let role = match m.role.trim().to_ascii_lowercase().as_str() {
                "user" | "human" => ChatRole::User,
                "assistant" | "ai" | "agent" | "bot" | "mentor" => ChatRole::Assistant,
                "system" => ChatRole::System,
                other => {
                    return Err(ApiError::bad_input("role", format!("{other:?} is not user, assistant or system")));
                }
            };
            let message = NewMessage {
                role,
                content: filled("content", &m.content, MAX_MESSAGE_CHARS)?,
                agent_persona: opt_key("agent_persona", m.persona, validate::MAX_KEY_CHARS)?,
            };
            let created_at = at("created_at", m.created_at, now)?;
            let key = Some(format!("{KEY}:chat_message:{}", m.id));
            Ok(matches!(
                companion::post_messages(txn, learner, Some(session), vec![message], key, created_at).await?,
                Stored::New(_)
            ))
        }
        .await;
        tally(report, "chat_messages", &m.location, outcome)?;
    }

    let mut chosen: Vec<(Uuid, String, DateTime<Utc>)> = Vec::new();
    if !w.mentors.is_empty() {
        chosen = mentor_selection::Entity::find()
            .filter(mentor_selection::Column::LearnerId.eq(id))
            .all(&**txn)
            .await?
            .into_iter()
            .map(|m| (m.session_id, m.mentor_id, m.created_at))
            .collect();
    }
    for m in w.mentors {
        let outcome = async {
            let source = m.session.as_ref().ok_or_else(|| ApiError::bad_input("session_id", "is missing"))?;
            let session = *sessions.get(source).ok_or_else(|| not_imported(source))?;
            let mentor_id = validate::key("mentor_id", &m.mentor_id, validate::MAX_KEY_CHARS)?;
            let keywords =
                m.keywords.map(|k| validate::text("context_keywords", &k, validate::MAX_TEXT_CHARS)).transpose()?;
            let created_at = at("created_at", m.created_at, now)?;
            let natural = (session, mentor_id.clone(), created_at);
            if chosen.contains(&natural) {
                return Ok(false);
            }
            companion::select_mentor(txn, learner, session, mentor_id, keywords, created_at).await?;
            chosen.push(natural);
            Ok(true)
        }
        .await;
        tally(report, "mentor_selections", &m.location, outcome)?;
    }

    for r in w.reflections {
        let outcome = async {
            let session = *sessions.get(&r.session).ok_or_else(|| not_imported(&r.session))?;
            let taken = meditation_reflection::Entity::find()
                .filter(meditation_reflection::Column::SessionId.eq(session))
                .one(&**txn)
                .await?;
            if taken.is_some() {
                return Ok(false);
            }
            let duration_minutes = r.duration.filter(|m| (1..=600).contains(m)).ok_or_else(|| {
                ApiError::bad_input("duration", "the session's duration must be between 1 and 600 minutes")
            })?;
            let new = NewReflection {
                session_id: Some(session),
                duration_minutes,
                reflection: filled("reflection_text", &r.text, MAX_FOLLOW_UP_CHARS)?,
                insight: r.insight.map(|i| validate::text("ai_insight", &i, MAX_FOLLOW_UP_CHARS)).transpose()?,
                emotional_state: opt_key("emotional_state", r.emotional_state, MAX_TAG_CHARS)?,
                save_to_journal: false,
            };
            let ended_at = at("completed_at", r.ended_at, now)?;
            companion::reflect(txn, learner, new, ended_at).await?;
            Ok(true)
        }
        .await;
        tally(report, "meditation_reflections", &r.location, outcome)?;
    }
    Ok(())
}
