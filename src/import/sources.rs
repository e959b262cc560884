//! Readers of the stores learngraph replaces (described in the README's "Moving from an existing
//! store"). Each turns its files or tables into
//! one `Incoming` per learner, skipping (and reporting, with file and key or table and row id) what
//! is malformed. Fields a source carries beyond the ones mapped are kept in the attempt's
//! `details` or the event's `payload`, so nothing is dropped on the way.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Map, Value};

use super::{
    Incoming, IncomingAttempt, IncomingDetail, IncomingEvent, IncomingGoal, IncomingSession, Options, Report, Streak,
};

/// What `learngraph import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// A directory with `profiles.json` (per-goal profiles) and `events.json` (event log).
    ProfileStore,
    /// A directory with `attempts_<user>.json` files and `streaks.json`.
    ProgressJson,
    /// The progress SQL tables (`attempts`, `sessions`, `user_profiles`) in a SQLite file or a
    /// PostgreSQL database, given as a URL (`sqlite://progress.db`, `postgres://…`).
    ProgressDb,
    /// The learner-profile prototype's SQLite file (`edpsych_connect_dala.db`): details, objective
    /// progress, badges and activity attempts.
    Dala,
    /// The wellbeing companion's tables in a PostgreSQL database (`postgres://…`): profiles,
    /// conversation state, chat, mentor selections, journal with follow-ups, meditation.
    WellbeingDb,
}

/// Reads the learners of `users` (a chunk from `chunks`; `None`: all of them).
pub async fn read(
    source: Source,
    location: &str,
    options: Options,
    report: &mut Report,
    users: Option<&[String]>,
) -> anyhow::Result<Vec<Incoming>> {
    let mut learners = Learners { by_id: BTreeMap::new(), merge: options.merge_prefixed_ids };
    match source {
        Source::ProfileStore => profile_store(Path::new(location), &mut learners, report)?,
        Source::ProgressJson => progress_json(Path::new(location), &mut learners, report)?,
        Source::ProgressDb => progress_db(location, &mut learners, report, users).await?,
        Source::Dala => dala(location, &mut learners, report).await?,
        Source::WellbeingDb => super::wellbeing::read(location, &mut learners, report, users).await?,
    }
    Ok(learners.by_id.into_values().collect())
}

/// How many learners one chunk of a database source holds.
const CHUNK: usize = 500;

/// The chunks a source is read in: for the database sources (the progress and the wellbeing
/// tables), the source's user ids in chunks of `CHUNK` people (both spellings of one person in one
/// chunk, so a learner is still one transaction); for the files, which are read whole anyway, one
/// chunk of everything (`None`).
pub async fn chunks(source: Source, location: &str, options: Options) -> anyhow::Result<Vec<Option<Vec<String>>>> {
    let tables: &[(&str, &str)] = match source {
        Source::ProgressDb => &[("attempts", "user_id"), ("sessions", "user_id"), ("user_profiles", "user_id")],
        Source::WellbeingDb => super::wellbeing::USER_COLUMNS,
        _ => return Ok(vec![None]),
    };
    let db = match source {
        Source::WellbeingDb => super::wellbeing::connect(location).await?,
        _ => connect_source(location).await?,
    };
    let mut people: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in tables {
        let sql = format!("SELECT DISTINCT CAST({column} AS TEXT) AS user_id FROM {table}");
        let Ok(rows) = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await else {
            continue;
        };
        for user in rows.iter().filter_map(|r| text(r, "user_id")) {
            let ids = people.entry(person(&user, options.merge_prefixed_ids)).or_default();
            if !ids.contains(&user) {
                ids.push(user);
            }
        }
    }
    db.close().await.ok();
    let people: Vec<Vec<String>> = people.into_values().collect();
    Ok(people.chunks(CHUNK).map(|c| Some(c.concat())).collect())
}

/// The learners read so far, by externalId.
pub(super) struct Learners {
    by_id: BTreeMap<String, Incoming>,
    merge: bool,
}

impl Learners {
    /// The learner of a source's user id: `user_7` is `7` when merging (the progress system
    /// accepted both spellings for one person).
    pub(super) fn of(&mut self, user_id: &str) -> &mut Incoming {
        let id = person(user_id, self.merge);
        self.by_id.entry(id.clone()).or_insert_with(|| Incoming { external_id: id, ..Incoming::default() })
    }
}

/// The externalId of a source's user id.
pub fn person(user_id: &str, merge: bool) -> String {
    let id = user_id.trim();
    match id.strip_prefix("user_") {
        Some(n) if merge && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.to_owned(),
        _ => id.to_owned(),
    }
}

/// A time as the sources write it: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f][+TZ]` (SQL text), a date,
/// or epoch seconds. Times without an offset are UTC.
pub fn time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => n.as_f64().and_then(|s| DateTime::from_timestamp_millis((s * 1000.0).round() as i64)),
        Value::String(s) => time_text(s),
        _ => None,
    }
}

pub(super) fn time_text(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// A stable key for a row without an id of its own: a hash of who and what, and the how-manieth
/// identical row it is (identical rows stay distinct, and stay the same on every run).
fn content_key(prefix: &str, user: &str, row: &Value, seen: &mut std::collections::HashMap<String, u32>) -> String {
    let digest = crate::trusted::document_id(&format!("{user}\n{row}"));
    let n = seen.entry(digest.clone()).or_insert(0);
    *n += 1;
    format!("import:{prefix}:{}:{n}", &digest[..32])
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// `profiles.json` (`"<user>:<goal>"` → profile) and `events.json` (`<user>` → events, oldest
/// first). Either file may be missing.
fn profile_store(dir: &Path, learners: &mut Learners, report: &mut Report) -> anyhow::Result<()> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let profiles = dir.join("profiles.json");
    let events = dir.join("events.json");
    anyhow::ensure!(
        profiles.exists() || events.exists(),
        "{} holds neither profiles.json nor events.json",
        dir.display()
    );
    if profiles.exists() {
        let table = "profiles.json";
        let Value::Object(entries) = read_json(&profiles)? else {
            anyhow::bail!("{table} is not a JSON object");
        };
        for (key, profile) in entries {
            report.counts(table).read += 1;
            let Some((user, goal)) = key.rsplit_once(':').filter(|(u, g)| !u.is_empty() && !g.is_empty()) else {
                report.skip(table, format!("{table} key {key:?}: not \"<user>:<goal>\""));
                continue;
            };
            if !profile.is_object() {
                report.skip(table, format!("{table} key {key:?}: the profile is not a JSON object"));
                continue;
            }
            learners.of(user).goals.push(IncomingGoal {
                table: table.to_owned(),
                external_id: goal.to_owned(),
                profile: Some(profile),
            });
        }
    }
    if events.exists() {
        let table = "events.json";
        let Value::Object(entries) = read_json(&events)? else {
            anyhow::bail!("{table} is not a JSON object");
        };
        for (user, list) in entries {
            let Value::Array(list) = list else {
                report.counts(table).read += 1;
                report.skip(table, format!("{table} key {user:?}: not a list of events"));
                continue;
            };
            let mut seen = Default::default();
            for (i, event) in list.into_iter().enumerate() {
                report.counts(table).read += 1;
                let location = format!("{table} key {user:?} item {i}");
                let Value::Object(fields) = &event else {
                    report.skip(table, format!("{location}: not a JSON object"));
                    continue;
                };
                let kind = ["event_type", "type"]
                    .iter()
                    .find_map(|k| fields.get(*k).and_then(Value::as_str))
                    .unwrap_or("imported")
                    .to_owned();
                let occurred_at = match fields.get("timestamp") {
                    None | Some(Value::Null) => None,
                    Some(t) => match time(t) {
                        Some(t) => Some(t),
                        None => {
                            report.skip(table, format!("{location}: timestamp {t} is not a time"));
                            continue;
                        }
                    },
                };
                let goal_external_id = match fields.get("goal_id") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(g)) => Some(g.clone()),
                    Some(Value::Number(g)) => Some(g.to_string()),
                    Some(other) => {
                        report.skip(table, format!("{location}: goal_id {other} is not an id"));
                        continue;
                    }
                };
                let key = content_key("profile-store:event", &user, &event, &mut seen);
                let incoming = learners.of(&user);
                // An event about a goal with no profile in the store still gets its goal.
                if let Some(g) = &goal_external_id
                    && !incoming.goals.iter().any(|x| &x.external_id == g)
                {
                    let goals_table = "events.json (goals)".to_owned();
                    incoming.goals.push(IncomingGoal { table: goals_table, external_id: g.clone(), profile: None });
                }
                incoming.events.push(IncomingEvent {
                    table: table.to_owned(),
                    location,
                    key,
                    kind,
                    payload: event,
                    occurred_at,
                    goal_external_id,
                });
            }
        }
    }
    Ok(())
}

/// One attempt object of `attempts_<user>.json`; unknown fields go to `details`.
fn json_attempt(
    table: &str,
    location: String,
    key: String,
    row: &Map<String, Value>,
) -> Result<IncomingAttempt, String> {
    let exercise_id = match row.get("exercise_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(format!("{location}: exercise_id is missing")),
    };
    let is_correct = match row.get("is_correct") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => n.as_i64() == Some(1),
        other => return Err(format!("{location}: is_correct {} is not a boolean", other.unwrap_or(&Value::Null))),
    };
    let at = row.get("created_at").or_else(|| row.get("timestamp"));
    let Some(occurred_at) = at.and_then(time) else {
        return Err(format!("{location}: created_at {} is not a time", at.unwrap_or(&Value::Null)));
    };
    let user_answer = match row.get("user_answer") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let session_source_id = row.get("session_id").filter(|v| !v.is_null()).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mapped = ["exercise_id", "is_correct", "created_at", "timestamp", "user_answer"];
    let extras: Map<String, Value> =
        row.iter().filter(|(k, _)| !mapped.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(IncomingAttempt {
        table: table.to_owned(),
        location,
        key,
        exercise_id,
        is_correct,
        user_answer,
        occurred_at,
        session_source_id,
        details: (!extras.is_empty()).then_some(Value::Object(extras)),
        activity_type: None,
        objective_id: None,
        score: None,
        completed: None,
    })
}

/// A stored streak object of `streaks.json` or a `user_profiles` row.
fn stored_streak(current: &Value, longest: &Value, last: &Value) -> Option<Streak> {
    let count = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok()).or_else(|| v.as_str()?.trim().parse().ok());
    let last = match last {
        Value::Null => None,
        other => Some(time(other)?.date_naive()),
    };
    Some(Streak { current: count(current)?, longest: count(longest)?, last })
}

/// `attempts_<user>.json` lists and `streaks.json`.
fn progress_json(dir: &Path, learners: &mut Learners, report: &mut Report) -> anyhow::Result<()> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = file_name(p);
            name.starts_with("attempts_") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    for path in files {
        let name = file_name(&path);
        let table = "attempts_*.json";
        let user = name.trim_start_matches("attempts_").trim_end_matches(".json").to_owned();
        let list = match read_json(&path) {
            Ok(Value::Array(list)) => list,
            Ok(_) | Err(_) => {
                report.counts(table).read += 1;
                report.skip(table, format!("{name}: not a JSON list of attempts"));
                continue;
            }
        };
        let mut seen = Default::default();
        for (i, row) in list.into_iter().enumerate() {
            report.counts(table).read += 1;
            let location = format!("{name} item {i}");
            let Value::Object(fields) = &row else {
                report.skip(table, format!("{location}: not a JSON object"));
                continue;
            };
            // The raw user id is part of the key, so `7` and `user_7` files stay distinct rows.
            let key = content_key("progress-json:attempt", &user, &row, &mut seen);
            match json_attempt(table, location, key, fields) {
                Ok(attempt) => learners.of(&user).attempts.push(attempt),
                Err(problem) => report.skip(table, problem),
            }
        }
    }
    let streaks = dir.join("streaks.json");
    if streaks.exists() {
        let table = "streaks.json";
        let Value::Object(entries) = read_json(&streaks)? else {
            anyhow::bail!("{table} is not a JSON object");
        };
        for (user, s) in entries {
            report.counts(table).read += 1;
            let parsed = stored_streak(
                s.get("current_streak").unwrap_or(&Value::Null),
                s.get("longest_streak").unwrap_or(&Value::Null),
                s.get("last_practice_date").unwrap_or(&Value::Null),
            );
            match parsed {
                Some(streak) => {
                    report.counts(table).imported += 1;
                    learners.of(&user).stored_streak = Some((table.to_owned(), streak));
                }
                None => report.skip(table, format!("{table} key {user:?}: not a streak")),
            }
        }
    }
    Ok(())
}

/// Text of column `i` (NULL as `None`): every column is read `CAST(… AS TEXT)`, which both engines
/// do the same way for integers, booleans (as 0/1, cast first) and times.
pub(super) fn text(row: &sea_orm::QueryResult, column: &str) -> Option<String> {
    row.try_get::<Option<String>>("", column).ok().flatten()
}

/// The progress SQL tables.
/// A source database, SQLite read-only.
pub(super) async fn connect_source(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
        format!("{url}{}mode=ro", if url.contains('?') { "&" } else { "?" })
    } else {
        url.to_owned()
    };
    Database::connect(&url).await.with_context(|| format!("connecting to {}", crate::db::redact(&url)))
}

/// `WHERE` for the rows of `users` (all rows for `None`).
fn of_users(users: Option<&[String]>) -> String {
    users_in("user_id", users).map_or_else(String::new, |c| format!(" WHERE {c}"))
}

/// The condition `column` is one of `users` (`None`: no condition).
pub(super) fn users_in(column: &str, users: Option<&[String]>) -> Option<String> {
    let quoted: Vec<String> = users?.iter().map(|u| format!("'{}'", u.replace('\'', "''"))).collect();
    Some(format!("CAST({column} AS TEXT) IN ({})", quoted.join(", ")))
}

async fn progress_db(
    url: &str,
    learners: &mut Learners,
    report: &mut Report,
    users: Option<&[String]>,
) -> anyhow::Result<()> {
    let db = connect_source(url).await?;
    let backend = db.get_database_backend();
    let only = of_users(users);
    let query = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let boolean = |column: &str| match backend {
        DbBackend::Postgres => format!("CAST(CAST({column} AS INTEGER) AS TEXT)"),
        _ => format!("CAST({column} AS TEXT)"),
    };

    // Sessions first, so attempts could name them (these tables do not link them).
    let table = "sessions";
    if let Ok(rows) = db
        .query_all_raw(query(&format!("SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(started_at AS TEXT) AS started_at, CAST(ended_at AS TEXT) AS ended_at FROM sessions{only} ORDER BY id")))
        .await
    {
        for row in rows {
            report.counts(table).read += 1;
            let id = text(&row, "id").unwrap_or_default();
            let (Some(user), Some(started)) = (text(&row, "user_id"), text(&row, "started_at")) else {
                report.skip(table, format!("{table} id {id}: user_id or started_at is missing"));
                continue;
            };
            let Some(started_at) = time_text(&started) else {
                report.skip(table, format!("{table} id {id}: started_at {started:?} is not a time"));
                continue;
            };
            let ended_at = match text(&row, "ended_at") {
                None => None,
                Some(e) => match time_text(&e) {
                    Some(t) => Some(t),
                    None => {
                        report.skip(table, format!("{table} id {id}: ended_at {e:?} is not a time"));
                        continue;
                    }
                },
            };
            learners.of(&user).sessions.push(IncomingSession {
                table: table.to_owned(),
                kind: entity::session::SessionKind::Practice,
                source_id: id,
                started_at,
                ended_at,
            });
        }
    }

    let table = "attempts";
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(exercise_id AS TEXT) AS exercise_id, \
         {} AS is_correct, CAST(user_answer AS TEXT) AS user_answer, CAST(created_at AS TEXT) AS created_at \
         FROM attempts{only} ORDER BY user_id, id",
        boolean("is_correct")
    );
    let rows = db.query_all_raw(query(&sql)).await.context("reading the attempts table")?;
    for row in rows {
        report.counts(table).read += 1;
        let id = text(&row, "id").unwrap_or_default();
        let location = format!("{table} id {id}");
        let Some(user) = text(&row, "user_id") else {
            report.skip(table, format!("{location}: user_id is missing"));
            continue;
        };
        let mut fields = Map::new();
        for column in ["exercise_id", "user_answer", "created_at"] {
            if let Some(v) = text(&row, column) {
                fields.insert(column.to_owned(), Value::String(v));
            }
        }
        let is_correct = match text(&row, "is_correct").as_deref().map(str::trim) {
            Some("1" | "true" | "t") => Value::Bool(true),
            Some("0" | "false" | "f") => Value::Bool(false),
            other => Value::String(other.unwrap_or("NULL").to_owned()),
        };
        fields.insert("is_correct".to_owned(), is_correct);
        let key = format!("import:progress-db:attempt:{id}");
        match json_attempt(table, location, key, &fields) {
            Ok(attempt) => learners.of(&user).attempts.push(attempt),
            Err(problem) => report.skip(table, problem),
        }
    }

    let table = "user_profiles";
    if let Ok(rows) = db
        .query_all_raw(query(&format!("SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id, CAST(current_streak AS TEXT) AS current_streak, CAST(longest_streak AS TEXT) AS longest_streak, CAST(last_practice_date AS TEXT) AS last_practice_date FROM user_profiles{only} ORDER BY id")))
        .await
    {
        for row in rows {
            report.counts(table).read += 1;
            let id = text(&row, "id").unwrap_or_default();
            let value = |c: &str| text(&row, c).map_or(Value::Null, Value::String);
            let streak = stored_streak(&value("current_streak"), &value("longest_streak"), &value("last_practice_date"));
            match (text(&row, "user_id"), streak) {
                (Some(user), Some(streak)) => {
                    report.counts(table).imported += 1;
                    learners.of(&user).stored_streak = Some((table.to_owned(), streak));
                }
                _ => report.skip(table, format!("{table} id {id}: not a streak")),
            }
        }
    }
    db.close().await.ok();
    Ok(())
}

/// `sqlite://…` for a path given bare, read-only either way.
fn sqlite_url(location: &str) -> String {
    let url = if location.contains("://") { location.to_owned() } else { format!("sqlite://{location}") };
    if url.contains("mode=") { url } else { format!("{url}{}mode=ro", if url.contains('?') { "&" } else { "?" }) }
}

/// A JSON column as SQLite keeps it (text); text that is not JSON is kept as a JSON string.
pub(super) fn json_text(text: Option<String>) -> Option<Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

/// The learner-profile prototype's SQLite file.
async fn dala(location: &str, learners: &mut Learners, report: &mut Report) -> anyhow::Result<()> {
    use entity::objective_progress::ObjectiveStatus;
    let url = sqlite_url(location);
    let db = Database::connect(&url).await.with_context(|| format!("opening {location}"))?;
    let rows = |sql: &'static str| db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql.to_owned()));
    let learner_ids = rows("SELECT CAST(id AS TEXT) AS id FROM learner_profiles ORDER BY id")
        .await
        .context("reading learner_profiles")?;
    for row in learner_ids {
        report.counts("learner_profiles").read += 1;
        match text(&row, "id") {
            Some(id) => {
                report.counts("learner_profiles").imported += 1;
                learners.of(&id);
            }
            None => report.skip("learner_profiles", "learner_profiles: a row without id".to_owned()),
        }
    }
    type Reader = fn(&sea_orm::QueryResult) -> Result<IncomingDetail, String>;
    let tables: [(&str, &'static str, Reader); 6] = [
        (
            "preferences",
            "SELECT CAST(id AS TEXT) AS id, learner_id, category, value FROM preferences ORDER BY id",
            |r| Ok(IncomingDetail::Preference { category: need(r, "category")?, value: need(r, "value")? }),
        ),
        ("interests", "SELECT CAST(id AS TEXT) AS id, learner_id, interest_name FROM interests ORDER BY id", |r| {
            Ok(IncomingDetail::Interest(need(r, "interest_name")?))
        }),
        (
            "struggles",
            "SELECT CAST(id AS TEXT) AS id, learner_id, struggle_description FROM struggles ORDER BY id",
            |r| Ok(IncomingDetail::Struggle(need(r, "struggle_description")?)),
        ),
        (
            "cognitive_metrics",
            "SELECT CAST(id AS TEXT) AS id, learner_id, task_name, metric_details FROM cognitive_metrics ORDER BY id",
            |r| {
                let metrics = json_text(text(r, "metric_details")).ok_or("metric_details is missing")?;
                Ok(IncomingDetail::Metric { task_name: need(r, "task_name")?, metrics })
            },
        ),
        (
            "learning_objective_progress",
            "SELECT CAST(id AS TEXT) AS id, learner_id, lo_id, status, CAST(started_at AS TEXT) AS started_at, \
             CAST(completed_at AS TEXT) AS completed_at, CAST(score AS TEXT) AS score, details FROM learning_objective_progress ORDER BY id",
            |r| {
                let status = match need(r, "status")?.to_ascii_lowercase().as_str() {
                    "not_started" => ObjectiveStatus::NotStarted,
                    "in_progress" => ObjectiveStatus::InProgress,
                    "completed" => ObjectiveStatus::Completed,
                    other => return Err(format!("status {other:?} is not not_started, in_progress or completed")),
                };
                Ok(IncomingDetail::Objective {
                    objective_id: need(r, "lo_id")?,
                    status,
                    score: number(r, "score")?,
                    details: json_text(text(r, "details")),
                    started_at: optional_time(r, "started_at")?,
                    completed_at: optional_time(r, "completed_at")?,
                })
            },
        ),
        (
            "badges",
            "SELECT CAST(id AS TEXT) AS id, learner_id, badge_id, badge_name, CAST(earned_date AS TEXT) AS earned_date, details FROM badges ORDER BY id",
            |r| {
                Ok(IncomingDetail::Badge {
                    badge_id: need(r, "badge_id")?,
                    name: need(r, "badge_name")?,
                    details: json_text(text(r, "details")),
                    earned_at: optional_time(r, "earned_date")?,
                })
            },
        ),
    ];
    for (table, sql, read) in tables {
        for row in rows(sql).await.with_context(|| format!("reading {table}"))? {
            report.counts(table).read += 1;
            let id = text(&row, "id").unwrap_or_default();
            match (text(&row, "learner_id"), read(&row)) {
                (Some(learner), Ok(detail)) => learners.of(&learner).details.push((table.to_owned(), detail)),
                (None, _) => report.skip(table, format!("{table} id {id}: learner_id is missing")),
                (_, Err(why)) => report.skip(table, format!("{table} id {id}: {why}")),
            }
        }
    }
    let table = "activity_attempts";
    let sql = "SELECT CAST(id AS TEXT) AS id, learner_id, lo_id, activity_id, activity_type, CAST(attempt_timestamp AS TEXT) AS at, \
               CAST(score AS TEXT) AS score, CAST(completed AS TEXT) AS completed, attempt_details FROM activity_attempts ORDER BY id";
    for row in rows(sql).await.context("reading activity_attempts")? {
        report.counts(table).read += 1;
        let id = text(&row, "id").unwrap_or_default();
        let location = format!("{table} id {id}");
        let attempt = (|| -> Result<(String, IncomingAttempt), String> {
            let learner = need(&row, "learner_id")?;
            let at = need(&row, "at")?;
            let occurred_at = time_text(&at).ok_or_else(|| format!("attempt_timestamp {at:?} is not a time"))?;
            let completed = match text(&row, "completed").as_deref().map(str::trim) {
                None => None,
                Some("1" | "true") => Some(true),
                Some("0" | "false") => Some(false),
                Some(other) => return Err(format!("completed {other:?} is not a boolean")),
            };
            Ok((
                learner,
                IncomingAttempt {
                    table: table.to_owned(),
                    location: location.clone(),
                    key: format!("import:dala:activity_attempt:{id}"),
                    exercise_id: need(&row, "activity_id")?,
                    // The prototype kept no right or wrong: a completed activity counts as correct.
                    is_correct: completed.unwrap_or(false),
                    user_answer: None,
                    occurred_at,
                    session_source_id: None,
                    details: json_text(text(&row, "attempt_details")),
                    activity_type: text(&row, "activity_type"),
                    objective_id: text(&row, "lo_id"),
                    score: number(&row, "score")?,
                    completed,
                },
            ))
        })();
        match attempt {
            Ok((learner, attempt)) => learners.of(&learner).attempts.push(attempt),
            Err(why) => report.skip(table, format!("{location}: {why}")),
        }
    }
    db.close().await.ok();
    Ok(())
}

pub(super) fn need(row: &sea_orm::QueryResult, column: &str) -> Result<String, String> {
    text(row, column).filter(|v| !v.trim().is_empty()).ok_or_else(|| format!("{column} is missing"))
}

pub(super) fn number(row: &sea_orm::QueryResult, column: &str) -> Result<Option<f64>, String> {
    match text(row, column) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{column} {v:?} is not a number")),
    }
}

pub(super) fn optional_time(row: &sea_orm::QueryResult, column: &str) -> Result<Option<DateTime<Utc>>, String> {
    match text(row, column) {
        None => Ok(None),
        Some(v) => time_text(&v).map(Some).ok_or_else(|| format!("{column} {v:?} is not a time")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_times_are_read_as_the_sources_wrote_them() {
        assert_eq!(person("user_7", true), "7");
        assert_eq!(person("user_7", false), "user_7");
        assert_eq!(person("user_x", true), "user_x");
        assert_eq!(person("TestUser", true), "TestUser");
        let at = |s: &str| time(&Value::String(s.into())).map(|t| t.to_rfc3339());
        let noon = Some("2024-03-01T12:00:00+00:00".to_owned());
        assert_eq!(at("2024-03-01T12:00:00Z"), noon);
        assert_eq!(at("2024-03-01 12:00:00"), noon);
        assert_eq!(at("2024-03-01 12:00:00.000000"), noon);
        assert_eq!(at("2024-03-01 13:00:00+01"), noon);
        assert_eq!(at("2024-03-01 12:00:00+00"), noon);
        assert_eq!(time(&serde_json::json!(1709294400)).map(|t| t.to_rfc3339()), noon);
        assert_eq!(at("2024-03-01"), Some("2024-03-01T00:00:00+00:00".to_owned()));
        assert_eq!(at("yesterday"), None);
    }
}
