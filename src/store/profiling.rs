//! Career profiling's writes and its catalog: the question banks (versioned, immutable once
//! stored, cached per replica), profiling sessions, answers, completion (telemetry, outcome and
//! the Value Statement in one transaction), portfolio items and the recipe catalog.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::portfolio_item::{self, PortfolioKind};
use entity::profiling_session::{self, ProfilingStatus};
use entity::{
    profiling_answer_key, profiling_outcome, profiling_question_bank, profiling_response, recipe, recipe_skill,
};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::details::room_for;
use super::idempotent::insert_unless_conflict;
use crate::domain::profiling::{self as rules, Answer, Bank, ScoreError, SkillMap, Telemetry};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::graphql::access::{LearnerScope, of_learner};

/// Who stored the bank that ships with the binary.
pub const SHIPPED: &str = "shipped";

/// The question banks and the skill map of this replica. Bank versions never change once stored,
/// so each is parsed once and kept.
pub struct Catalog {
    skill_map: SkillMap,
    startup: Bank,
    /// The file the startup bank came from (`--profiling-bank`), if not the shipped one.
    startup_file: Option<PathBuf>,
    banks: RwLock<HashMap<i32, Arc<Bank>>>,
}

impl Catalog {
    /// The shipped bank, or the bank in `file`, and the shipped skill map, validated: a broken
    /// one is an error that names every problem (the server refuses to start).
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Catalog> {
        let (text, source) = match file {
            Some(path) => (
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the profiling question bank {}", path.display()))?,
                path.display().to_string(),
            ),
            None => (rules::DEFAULT_BANK.to_owned(), "shipped with the binary".to_owned()),
        };
        let startup = Bank::parse_str(&text).map_err(|problems| {
            anyhow::anyhow!("the profiling question bank ({source}) is invalid:\n  - {}", problems.join("\n  - "))
        })?;
        let skill_map = SkillMap::parse_str(rules::DEFAULT_SKILL_MAP).map_err(|problems| {
            anyhow::anyhow!("the profiling skill map is invalid:\n  - {}", problems.join("\n  - "))
        })?;
        Ok(Catalog { skill_map, startup, startup_file: file.map(PathBuf::from), banks: RwLock::default() })
    }

    pub fn skill_map(&self) -> &SkillMap {
        &self.skill_map
    }

    /// At start: an empty database gets the startup bank as version 1; a bank given with
    /// `--profiling-bank` is published when it differs from the current version. Replicas starting
    /// together insert the same version once (the others' inserts do nothing).
    pub async fn prepare(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
        let current = latest_version(db).await.map_err(|_| anyhow::anyhow!("reading the profiling question banks"))?;
        let publish = match current {
            None => true,
            Some(v) if self.startup_file.is_some() => {
                *self.bank(db, v).await.map_err(|_| anyhow::anyhow!("reading profiling bank {v}"))? != self.startup
            }
            Some(_) => false,
        };
        if publish {
            let by = match &self.startup_file {
                Some(path) => format!("file {}", path.display()),
                None => SHIPPED.to_owned(),
            };
            let version = current.unwrap_or(0) + 1;
            let row = bank_row(version, &self.startup, &by, now)
                .map_err(|_| anyhow::anyhow!("serializing the profiling question bank"))?;
            let insert = profiling_question_bank::Entity::insert(row)
                .on_conflict_do_nothing_on([profiling_question_bank::Column::Version]);
            insert.exec_without_returning(db).await.context("storing the profiling question bank")?;
            tracing::info!(version, published_by = %by, "profiling question bank stored");
        }
        Ok(())
    }

    /// The bank of a version (cached).
    pub async fn bank<C: ConnectionTrait>(&self, db: &C, version: i32) -> ApiResult<Arc<Bank>> {
        if let Some(bank) = self.banks.read().map_err(|_| ApiError::Internal)?.get(&version) {
            return Ok(bank.clone());
        }
        let row = profiling_question_bank::Entity::find_by_id(version)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("question bank version {version}")))?;
        let bank = Arc::new(Bank::parse(row.bank).map_err(|problems| {
            tracing::error!(version, ?problems, "stored profiling question bank does not parse");
            ApiError::Internal
        })?);
        self.banks.write().map_err(|_| ApiError::Internal)?.insert(version, bank.clone());
        Ok(bank)
    }

    /// The newest version and its bank.
    pub async fn current<C: ConnectionTrait>(&self, db: &C) -> ApiResult<(i32, Arc<Bank>)> {
        let version = latest_version(db).await?.ok_or_else(|| {
            tracing::error!("no profiling question bank is stored");
            ApiError::Internal
        })?;
        Ok((version, self.bank(db, version).await?))
    }
}

async fn latest_version<C: ConnectionTrait>(db: &C) -> ApiResult<Option<i32>> {
    Ok(profiling_question_bank::Entity::find()
        .select_only()
        .column(profiling_question_bank::Column::Version)
        .order_by_desc(profiling_question_bank::Column::Version)
        .limit(1)
        .into_tuple::<i32>()
        .one(db)
        .await?)
}

fn bank_row(
    version: i32,
    bank: &Bank,
    by: &str,
    now: DateTime<Utc>,
) -> ApiResult<profiling_question_bank::ActiveModel> {
    Ok(profiling_question_bank::ActiveModel {
        version: Set(version),
        bank: Set(serde_json::to_value(bank).map_err(|_| ApiError::Internal)?),
        question_count: Set(i32::try_from(bank.questions.len()).map_err(|_| ApiError::Internal)?),
        published_by: Set(by.to_owned()),
        published_at: Set(now),
    })
}

/// Publishes a bank as the next version, unless it equals the current one (then that version is
/// returned and nothing is stored). Two staff publishing at the same moment: one gets CONFLICT.
pub async fn publish(
    txn: &DatabaseTransaction,
    catalog: &Catalog,
    bank: Bank,
    by: &str,
    now: DateTime<Utc>,
) -> ApiResult<(profiling_question_bank::Model, bool)> {
    let (version, current) = catalog.current(txn).await?;
    if *current == bank {
        let row = profiling_question_bank::Entity::find_by_id(version).one(txn).await?.ok_or(ApiError::Internal)?;
        return Ok((row, false));
    }
    let insert = profiling_question_bank::Entity::insert(bank_row(version + 1, &bank, by, now)?)
        .on_conflict_do_nothing_on([profiling_question_bank::Column::Version]);
    match insert_unless_conflict(txn, insert).await? {
        Some(row) => Ok((row, true)),
        None => Err(ApiError::Conflict("another question bank version was published at the same moment; retry".into())),
    }
}

/// The session as read when the write opened, locked on PostgreSQL (read again under the lock):
/// answers share the lock (they run side by side), completion takes it alone (no answer lands in
/// a completed session). SQLite's write transaction is already alone, so the row read in it is
/// current.
async fn locked_session(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    session: profiling_session::Model,
    lock: LockType,
) -> ApiResult<profiling_session::Model> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(session);
    }
    of_learner::<profiling_session::Entity>(learner)
        .filter(profiling_session::Column::Id.eq(session.id))
        .lock(lock)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("profiling session".into()))
}

/// Returns the learner's IN_PROGRESS session, or starts one on the current bank version.
/// `true` when it was started now.
pub async fn start(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> ApiResult<(profiling_session::Model, bool)> {
    super::companion::lock_learner(txn, learner).await?;
    let open = of_learner::<profiling_session::Entity>(learner)
        .filter(profiling_session::Column::Status.eq(ProfilingStatus::InProgress))
        .one(txn)
        .await?;
    if let Some(open) = open {
        return Ok((open, false));
    }
    room_for::<profiling_session::Entity>(txn, learner, "learnerId", "profiling sessions").await?;
    let (version, _) = catalog.current(txn).await?;
    let row = profiling_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        bank_version: Set(version),
        status: Set(ProfilingStatus::InProgress),
        started_at: Set(now),
        completed_at: Set(None),
        telemetry: Set(None),
    };
    Ok((row.insert(txn).await?, true))
}

/// A validated answer.
pub struct NewAnswer {
    pub question_id: String,
    pub selected_option: String,
    pub response_time_ms: i32,
    pub idempotency_key: Option<String>,
}

/// Longest accepted response time (an hour): anything longer is a client's clock error.
pub const MAX_RESPONSE_TIME_MS: i32 = 3_600_000;

/// Stores (or replaces) the answer to one question. A retried `idempotencyKey` returns the
/// response as it stands and changes nothing.
pub async fn answer(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    catalog: &Catalog,
    session: profiling_session::Model,
    new: NewAnswer,
    now: DateTime<Utc>,
) -> ApiResult<profiling_response::Model> {
    let session = locked_session(txn, learner, session, LockType::Share).await?;
    if let Some(key) = &new.idempotency_key {
        // The key first: a racing retry waits here for the first one and then replays it.
        let row = profiling_answer_key::ActiveModel {
            learner_id: Set(learner.id()),
            idempotency_key: Set(key.clone()),
            session_id: Set(session.id),
            question_id: Set(new.question_id.clone()),
            created_at: Set(now),
        };
        let insert = profiling_answer_key::Entity::insert(row).on_conflict_do_nothing_on([
            profiling_answer_key::Column::LearnerId,
            profiling_answer_key::Column::IdempotencyKey,
        ]);
        if insert_unless_conflict(txn, insert).await?.is_none() {
            let first = profiling_answer_key::Entity::find_by_id((learner.id(), key.clone()))
                .one(txn)
                .await?
                .ok_or(ApiError::Internal)?;
            return profiling_response::Entity::find_by_id((first.session_id, first.question_id))
                .one(txn)
                .await?
                .ok_or(ApiError::Internal);
        }
    }
    if session.status == ProfilingStatus::Completed {
        return Err(ApiError::Conflict("the profiling session is completed; it takes no more answers".into()));
    }
    let bank = catalog.bank(txn, session.bank_version).await?;
    let question = bank.question(&new.question_id).ok_or_else(|| {
        ApiError::bad_input("questionId", format!("is not a question of bank version {}", session.bank_version))
    })?;
    if question.option(&new.selected_option).is_none() {
        let values: Vec<&str> = question.options.iter().map(|o| o.value.as_str()).collect();
        return Err(ApiError::bad_input("selectedOption", format!("must be one of: {}", values.join(", "))));
    }
    let row = profiling_response::ActiveModel {
        session_id: Set(session.id),
        question_id: Set(new.question_id),
        learner_id: Set(learner.id()),
        selected_option: Set(new.selected_option),
        response_time_ms: Set(new.response_time_ms),
        answered_at: Set(now),
    };
    let upsert = profiling_response::Entity::insert(row).on_conflict(
        OnConflict::columns([profiling_response::Column::SessionId, profiling_response::Column::QuestionId])
            .update_columns([
                profiling_response::Column::SelectedOption,
                profiling_response::Column::ResponseTimeMs,
                profiling_response::Column::AnsweredAt,
            ])
            .to_owned(),
    );
    Ok(upsert.exec_with_returning(txn).await?)
}

/// The responses of a session (scoring reads them in bank order, so any order will do here).
async fn responses(txn: &DatabaseTransaction, session: Uuid) -> ApiResult<Vec<profiling_response::Model>> {
    Ok(profiling_response::Entity::find()
        .filter(profiling_response::Column::SessionId.eq(session))
        .order_by_asc(profiling_response::Column::QuestionId)
        .all(txn)
        .await?)
}

/// Reads stored telemetry; unreadable JSON is a fault of ours.
pub fn telemetry(row: &profiling_session::Model) -> ApiResult<Option<Telemetry>> {
    row.telemetry.as_ref().map(|json| stored(json, "profiling telemetry", row.id)).transpose()
}

/// A JSON column read back into its type; unreadable JSON is a fault of ours (logged, INTERNAL).
fn stored<T: serde::de::DeserializeOwned>(json: &serde_json::Value, what: &str, row: Uuid) -> ApiResult<T> {
    serde_json::from_value(json.clone()).map_err(|e| {
        tracing::error!(%row, error = %e, "stored {what} does not parse");
        ApiError::Internal
    })
}

/// An outcome's alignment over the five tracks.
pub fn outcome_alignment(o: &profiling_outcome::Model) -> ApiResult<Vec<rules::TrackShare>> {
    stored(&o.alignment, "profiling alignment", o.learner_id)
}

/// An outcome's weak modules, with their scores.
pub fn outcome_weak(o: &profiling_outcome::Model) -> ApiResult<Vec<rules::ModuleScore>> {
    stored(&o.weak_modules, "weak modules", o.learner_id)
}

/// Completes a session: telemetry, the outcome on the learner and the Value Statement, in the
/// caller's transaction, and whether this call completed it: a completed session is returned as
/// it is (nothing is written).
pub async fn complete(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    catalog: &Catalog,
    session: profiling_session::Model,
    now: DateTime<Utc>,
) -> ApiResult<(profiling_session::Model, bool)> {
    super::companion::lock_learner(txn, learner).await?;
    let session = locked_session(txn, learner, session, LockType::Update).await?;
    if session.status == ProfilingStatus::Completed {
        return Ok((session, false));
    }
    let bank = catalog.bank(txn, session.bank_version).await?;
    let answers: Vec<Answer> = responses(txn, session.id)
        .await?
        .into_iter()
        .map(|r| Answer {
            question_id: r.question_id,
            selected_option: r.selected_option,
            response_time_ms: r.response_time_ms,
        })
        .collect();
    let map = catalog.skill_map();
    let scored = rules::score(&bank, &answers, map.weak_below).and_then(|t| {
        let statement = rules::value_statement(&bank, &answers)?;
        Ok((t, statement))
    });
    let (telemetry, statement) = match scored {
        Ok(done) => done,
        Err(ScoreError::MissingModules(missing)) => {
            return Err(ApiError::bad_input(
                "sessionId",
                format!("answer at least one question of each module first; missing: {}", missing.join(", ")),
            ));
        }
        Err(ScoreError::UnknownAnswer(q)) => {
            tracing::error!(session_id = %session.id, question = %q, "stored answer is not in its bank");
            return Err(ApiError::Internal);
        }
    };
    let mut active: profiling_session::ActiveModel = session.into();
    active.status = Set(ProfilingStatus::Completed);
    active.completed_at = Set(Some(now));
    active.telemetry = Set(Some(to_json(&telemetry)?));
    let session = active.update(txn).await?;

    let weak: Vec<rules::ModuleScore> =
        telemetry.module_scores.iter().filter(|s| telemetry.weak_modules.contains(&s.module)).cloned().collect();
    let outcome = profiling_outcome::ActiveModel {
        learner_id: Set(learner.id()),
        session_id: Set(session.id),
        track_key: Set(telemetry.primary_track.clone()),
        alignment: Set(to_json(&telemetry.alignment)?),
        weak_modules: Set(to_json(&weak)?),
        completed_at: Set(now),
    };
    profiling_outcome::Entity::insert(outcome)
        .on_conflict(
            OnConflict::column(profiling_outcome::Column::LearnerId)
                .update_columns([
                    profiling_outcome::Column::SessionId,
                    profiling_outcome::Column::TrackKey,
                    profiling_outcome::Column::Alignment,
                    profiling_outcome::Column::WeakModules,
                    profiling_outcome::Column::CompletedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;

    let existing = of_learner::<portfolio_item::Entity>(learner)
        .filter(portfolio_item::Column::Kind.eq(PortfolioKind::ValueStatement))
        .one(txn)
        .await?;
    match existing {
        Some(item) => {
            let mut item: portfolio_item::ActiveModel = item.into();
            item.content = Set(statement);
            item.profiling_session_id = Set(Some(session.id));
            item.updated_at = Set(now);
            item.update(txn).await?;
        }
        None => {
            portfolio_item::ActiveModel {
                id: Set(Uuid::now_v7()),
                learner_id: Set(learner.id()),
                kind: Set(PortfolioKind::ValueStatement),
                title: Set(VALUE_STATEMENT_TITLE.to_owned()),
                content: Set(statement),
                url: Set(None),
                profiling_session_id: Set(Some(session.id)),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok((session, true))
}

/// The title of the item profiling writes.
pub const VALUE_STATEMENT_TITLE: &str = "Value Statement";

/// A value as a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|_| ApiError::Internal)
}

/// Longest portfolio title and content, and URL.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_CONTENT_CHARS: usize = 20_000;
pub const MAX_URL_CHARS: usize = 2_000;

/// A portfolio item's fields, validated.
pub struct PortfolioFields {
    pub title: Option<String>,
    pub content: Option<String>,
    /// `Some(None)` clears the URL.
    pub url: Option<Option<String>>,
}

/// A title: 1..=200 characters, trimmed.
pub fn title(value: &str) -> ApiResult<String> {
    validate::key("title", value, MAX_TITLE_CHARS)
}

/// A URL: http or https, at most 2,000 characters.
pub fn url(value: &str) -> ApiResult<String> {
    let v = value.trim();
    if !(v.starts_with("https://") || v.starts_with("http://")) || v.len() <= "https://".len() {
        return Err(ApiError::bad_input("url", "must be an http:// or https:// address"));
    }
    validate::key("url", v, MAX_URL_CHARS)
}

/// Adds a portfolio item of any kind but VALUE_STATEMENT (at most 100 items per learner).
pub async fn create_item(
    txn: &DatabaseTransaction,
    learner: &LearnerScope,
    kind: PortfolioKind,
    fields: PortfolioFields,
    now: DateTime<Utc>,
) -> ApiResult<portfolio_item::Model> {
    if kind == PortfolioKind::ValueStatement {
        return Err(ApiError::bad_input("kind", "the VALUE_STATEMENT is written by completing a profiling session"));
    }
    room_for::<portfolio_item::Entity>(txn, learner, "learnerId", "portfolio items").await?;
    let row = portfolio_item::ActiveModel {
        id: Set(Uuid::now_v7()),
        learner_id: Set(learner.id()),
        kind: Set(kind),
        title: Set(fields.title.ok_or_else(|| ApiError::bad_input("title", "is required"))?),
        content: Set(fields.content.unwrap_or_default()),
        url: Set(fields.url.flatten()),
        profiling_session_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(txn).await?)
}

/// Changes the given fields of an item (not the VALUE_STATEMENT).
pub async fn update_item(
    txn: &DatabaseTransaction,
    item: portfolio_item::Model,
    fields: PortfolioFields,
    now: DateTime<Utc>,
) -> ApiResult<portfolio_item::Model> {
    if item.kind == PortfolioKind::ValueStatement {
        return Err(ApiError::bad_input("itemId", "the VALUE_STATEMENT is written by completing a profiling session"));
    }
    let mut active: portfolio_item::ActiveModel = item.into();
    if let Some(t) = fields.title {
        active.title = Set(t);
    }
    if let Some(c) = fields.content {
        active.content = Set(c);
    }
    if let Some(u) = fields.url {
        active.url = Set(u);
    }
    active.updated_at = Set(now);
    Ok(active.update(txn).await?)
}

/// Deletes an item (not the VALUE_STATEMENT).
pub async fn delete_item(txn: &DatabaseTransaction, item: portfolio_item::Model) -> ApiResult<()> {
    if item.kind == PortfolioKind::ValueStatement {
        return Err(ApiError::bad_input("itemId", "the VALUE_STATEMENT is written by completing a profiling session"));
    }
    portfolio_item::Entity::delete_by_id(item.id).exec(txn).await?;
    Ok(())
}

/// A recipe of the catalog, validated.
pub struct NewRecipe {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub skill_codes: Vec<String>,
    pub usage_count: i64,
    pub avg_rating: f64,
    pub is_active: bool,
}

/// Most skill codes of one recipe.
pub const MAX_SKILLS_PER_RECIPE: usize = 50;

/// Creates the recipe with this slug, or replaces its fields. `true` when created.
pub async fn upsert_recipe(
    txn: &DatabaseTransaction,
    new: NewRecipe,
    now: DateTime<Utc>,
) -> ApiResult<(recipe::Model, bool)> {
    let existing = recipe::Entity::find().filter(recipe::Column::Slug.eq(&new.slug)).one(txn).await?;
    let created = existing.is_none();
    let codes = serde_json::to_value(&new.skill_codes).map_err(|_| ApiError::Internal)?;
    let row = match existing {
        Some(r) => {
            let mut active: recipe::ActiveModel = r.into();
            active.title = Set(new.title);
            active.description = Set(new.description);
            active.skill_codes = Set(codes);
            active.usage_count = Set(new.usage_count);
            active.avg_rating = Set(new.avg_rating);
            active.is_active = Set(new.is_active);
            active.updated_at = Set(now);
            active.update(txn).await?
        }
        None => {
            let row = recipe::ActiveModel {
                id: Set(Uuid::now_v7()),
                slug: Set(new.slug),
                title: Set(new.title),
                description: Set(new.description),
                skill_codes: Set(codes),
                usage_count: Set(new.usage_count),
                avg_rating: Set(new.avg_rating),
                is_active: Set(new.is_active),
                created_at: Set(now),
                updated_at: Set(now),
            };
            let insert = recipe::Entity::insert(row).on_conflict_do_nothing_on([recipe::Column::Slug]);
            insert_unless_conflict(txn, insert).await?.ok_or_else(|| {
                ApiError::Conflict("a recipe with this slug was created at the same moment; retry".into())
            })?
        }
    };
    recipe_skill::Entity::delete_many().filter(recipe_skill::Column::RecipeId.eq(row.id)).exec(txn).await?;
    if !new.skill_codes.is_empty() {
        recipe_skill::Entity::insert_many(
            new.skill_codes
                .iter()
                .map(|code| recipe_skill::ActiveModel { recipe_id: Set(row.id), skill_code: Set(code.clone()) }),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok((row, created))
}

/// The skill codes stored on a recipe.
pub fn skill_codes(row: &recipe::Model) -> ApiResult<Vec<String>> {
    stored(&row.skill_codes, "recipe skill codes", row.id)
}

/// Checks a recipe's fields.
pub fn recipe_rules(new: &NewRecipe) -> ApiResult<()> {
    let slug_ok = !new.slug.is_empty()
        && new.slug.len() <= 100
        && new.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !slug_ok {
        return Err(ApiError::bad_input("slug", "must be 1..=100 of a-z, 0-9 and `-`"));
    }
    if new.skill_codes.len() > MAX_SKILLS_PER_RECIPE {
        return Err(ApiError::bad_input("skillCodes", format!("at most {MAX_SKILLS_PER_RECIPE} codes")));
    }
    if let Some(bad) = new.skill_codes.iter().find(|c| !rules::is_skill_code(c)) {
        return Err(ApiError::bad_input(
            "skillCodes",
            format!("`{bad}` is not a skill code (1..=32 of A-Z, 0-9, `-`)"),
        ));
    }
    if new.usage_count < 0 {
        return Err(ApiError::bad_input("usageCount", "must not be negative"));
    }
    if !(new.avg_rating.is_finite() && (0.0..=5.0).contains(&new.avg_rating)) {
        return Err(ApiError::bad_input("avgRating", "must be between 0 and 5"));
    }
    Ok(())
}
