//! Career profiling: the question bank, profiling sessions and their telemetry, the outcome on the
//! learner, the portfolio, the recipe catalog, recommendations and coaching focus.

use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::activity::ActivityKind;
use entity::{
    portfolio_item, profiling_outcome, profiling_question_bank, profiling_response, profiling_session, recipe,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::access::{self, LearnerScope, parts};
use super::fast::{Fast, Leaf, Leaves, List, id, text, text_opt, time, time_opt, value};
use super::ids::{self, Kind};
use super::learner::Learner;
use super::loaders;
use super::page;
use crate::domain::profiling::{self as rules, MAX_QUESTIONS, TrackShare};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::details::MAX_PER_KIND;
use crate::store::profiling::{NewAnswer, NewRecipe, PortfolioFields};

/// Where a profiling session stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::profiling_session::ProfilingStatus")]
pub enum ProfilingStatus {
    /// Taking answers. A learner has at most one.
    InProgress,
    /// Scored; takes no more answers.
    Completed,
}

/// What a portfolio item is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::portfolio_item::PortfolioKind")]
pub enum PortfolioKind {
    /// The learner's values, written by completing a profiling session (one per learner).
    ValueStatement,
    /// Something the learner built.
    Project,
    /// A certificate the learner earned.
    Certification,
    /// An award or milestone.
    Achievement,
    /// An essay, write-up or post.
    Writing,
    /// Anything else.
    Other,
}

/// One option of a profiling question.
#[derive(SimpleObject)]
pub struct ProfilingOption {
    /// What `answerProfilingQuestion` takes as `selectedOption`.
    pub value: String,
    /// What the learner reads.
    pub label: String,
}

/// A question of the profiling question bank.
#[derive(SimpleObject)]
pub struct ProfilingQuestion {
    /// Stable within a bank version; what `answerProfilingQuestion` takes as `questionId`.
    pub id: String,
    /// `technical_exposure`, `work_style`, `scenario_preference`, `difficulty`, `identity_value`
    /// or `reflection`.
    pub module: String,
    /// The question.
    pub prompt: String,
    /// The options, in the order to show them (2..=12).
    pub options: Vec<ProfilingOption>,
}

fn questions(bank: &rules::Bank, module: Option<&str>) -> Vec<ProfilingQuestion> {
    bank.questions
        .iter()
        .filter(|q| module.is_none_or(|m| q.module == m))
        .map(|q| ProfilingQuestion {
            id: q.id.clone(),
            module: q.module.clone(),
            prompt: q.prompt.clone(),
            options: q
                .options
                .iter()
                .map(|o| ProfilingOption { value: o.value.clone(), label: o.label.clone() })
                .collect(),
        })
        .collect()
}

fn module_arg(module: Option<String>) -> ApiResult<Option<String>> {
    match module {
        Some(m) if !rules::MODULES.contains(&m.as_str()) => {
            Err(ApiError::bad_input("module", format!("must be one of: {}", rules::MODULES.join(", "))))
        }
        other => Ok(other),
    }
}

/// A published version of the question bank.
pub struct ProfilingQuestionBank {
    row: profiling_question_bank::Model,
    bank: std::sync::Arc<rules::Bank>,
}

/// A published version of the question bank.
#[Object]
impl ProfilingQuestionBank {
    /// 1, 2, …; sessions keep the version they started on.
    async fn version(&self) -> i32 {
        self.row.version
    }
    /// Number of questions.
    async fn question_count(&self) -> i32 {
        self.row.question_count
    }
    /// Who published it (`shipped` for the bank that ships with the server).
    async fn published_by(&self) -> &str {
        &self.row.published_by
    }
    /// When it was stored.
    async fn published_at(&self) -> DateTime<Utc> {
        self.row.published_at
    }
    /// Its questions, in bank order (at most 200), optionally of one module.
    async fn questions(
        &self,
        #[graphql(desc = "Only the questions of this module.")] module: Option<String>,
    ) -> ApiResult<Vec<ProfilingQuestion>> {
        Ok(questions(&self.bank, module_arg(module)?.as_deref()))
    }
    /// The bank as published (the format `publishProfilingQuestionBank` takes).
    async fn bank(&self) -> Json<serde_json::Value> {
        Json(self.row.bank.clone())
    }
}

/// A track's share of a profiling alignment.
#[derive(SimpleObject)]
pub struct TrackAlignment {
    /// `defender`, `offensive`, `innovation`, `leadership` or `grc`.
    pub track: String,
    /// Percent, one decimal; the five sum to exactly 100.0.
    pub percentage: f64,
}

impl Leaves for TrackAlignment {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "track" => text(&self.track),
            "percentage" => value(&self.percentage),
            _ => return None,
        })
    }
}

fn alignment(shares: Vec<TrackShare>) -> Vec<TrackAlignment> {
    shares.into_iter().map(|s| TrackAlignment { track: s.track, percentage: s.percentage }).collect()
}

/// A module's score: the mean score of its chosen options (modules whose options carry scores).
#[derive(SimpleObject)]
pub struct ModuleScore {
    /// The module.
    pub module: String,
    /// 0..=100.
    pub score: f64,
}

/// What completing a profiling session computed (see the README for each rule).
#[derive(SimpleObject)]
pub struct ProfilingTelemetry {
    /// 0..=100: the mean score of the chosen technical-exposure options.
    pub technical_exposure_score: i32,
    /// The work-style cluster chosen most often (ties: first in the bank).
    pub work_style_cluster: String,
    /// The chosen scenario options, in bank order.
    pub scenario_choices: Vec<String>,
    /// The chosen difficulty.
    pub difficulty_selection: String,
    /// The five tracks, in the order defender, offensive, innovation, leadership, grc.
    pub alignment: Vec<TrackAlignment>,
    /// The track with the largest alignment (ties: the first in that order).
    pub primary_track: String,
    /// True when the median response time was under 1,000 ms: faster than a question can be read.
    pub suspicious_timing: bool,
    /// The median response time (for an even count, the lower middle value).
    pub median_response_time_ms: i32,
    /// Scores of the modules that have them.
    pub module_scores: Vec<ModuleScore>,
    /// Modules scored below the skill map's threshold (they add gap skills and coaching focus).
    pub weak_modules: Vec<String>,
    /// Number of questions answered.
    pub answered: i32,
}

impl From<rules::Telemetry> for ProfilingTelemetry {
    fn from(t: rules::Telemetry) -> Self {
        ProfilingTelemetry {
            technical_exposure_score: t.technical_exposure_score,
            work_style_cluster: t.work_style_cluster,
            scenario_choices: t.scenario_choices,
            difficulty_selection: t.difficulty_selection,
            alignment: alignment(t.alignment),
            primary_track: t.primary_track,
            suspicious_timing: t.suspicious_timing,
            median_response_time_ms: t.median_response_time_ms,
            module_scores: t
                .module_scores
                .into_iter()
                .map(|s| ModuleScore { module: s.module, score: s.score })
                .collect(),
            weak_modules: t.weak_modules,
            answered: t.answered,
        }
    }
}

/// The answer to one question of a profiling session.
pub struct ProfilingResponse(profiling_response::Model);

impl Leaves for ProfilingResponse {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.0;
        Some(match name {
            "questionId" => text(&r.question_id),
            "selectedOption" => text(&r.selected_option),
            "responseTimeMs" => value(&r.response_time_ms),
            "answeredAt" => time(&r.answered_at),
            _ => return None,
        })
    }
}

/// The answer to one question of a profiling session.
#[Object]
impl ProfilingResponse {
    /// The question.
    async fn question_id(&self) -> &str {
        &self.0.question_id
    }
    /// The chosen option's value.
    async fn selected_option(&self) -> &str {
        &self.0.selected_option
    }
    /// How long the learner took, as the client measured it.
    async fn response_time_ms(&self) -> i32 {
        self.0.response_time_ms
    }
    /// When it was (last) answered.
    async fn answered_at(&self) -> DateTime<Utc> {
        self.0.answered_at
    }
}

/// A learner's run through one version of the question bank.
pub struct ProfilingSession {
    scope: LearnerScope,
    row: profiling_session::Model,
}

impl ProfilingSession {
    pub fn new(scope: LearnerScope, row: profiling_session::Model) -> Self {
        ProfilingSession { scope, row }
    }
}

impl Leaves for ProfilingSession {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::ProfilingSession, r.id),
            "status" => value(&ProfilingStatus::from(r.status)),
            "bankVersion" => value(&r.bank_version),
            "startedAt" => time(&r.started_at),
            "completedAt" => time_opt(&r.completed_at),
            _ => return None,
        })
    }
}

/// A learner's run through one version of the question bank.
#[Object]
impl ProfilingSession {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ProfilingSession, self.row.id)
    }
    /// IN_PROGRESS or COMPLETED.
    async fn status(&self) -> ProfilingStatus {
        self.row.status.into()
    }
    /// The question-bank version it uses.
    async fn bank_version(&self) -> i32 {
        self.row.bank_version
    }
    /// When it started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.row.started_at
    }
    /// When it was completed; null while in progress.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at
    }
    /// The answers, one per question answered, in the order first answered (at most 200).
    #[graphql(complexity = "MAX_QUESTIONS * child_complexity.max(1) + 1")]
    async fn responses(&self, ctx: &Context<'_>) -> ApiResult<List<ProfilingResponse>> {
        let rows = loaders::children::<profiling_response::Entity>(ctx, &self.scope, self.row.id, MAX_QUESTIONS as u64)
            .await?;
        Ok(List(rows.into_iter().map(ProfilingResponse).collect()))
    }
    /// The telemetry; null until completed.
    async fn telemetry(&self) -> ApiResult<Option<ProfilingTelemetry>> {
        Ok(store::profiling::telemetry(&self.row)?.map(Into::into))
    }
    /// The questions of its bank version (at most 200), optionally of one module.
    async fn questions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the questions of this module.")] module: Option<String>,
    ) -> ApiResult<Vec<ProfilingQuestion>> {
        let module = module_arg(module)?;
        let state = parts(ctx)?.0;
        let bank = state.profiling.bank(&state.reader, self.row.bank_version).await?;
        Ok(questions(&bank, module.as_deref()))
    }
    /// The learner.
    async fn learner(&self) -> Learner {
        Learner::new(self.scope.clone())
    }
}

/// The outcome of a learner's latest completed profiling session.
pub struct ProfilingOutcome(Option<profiling_outcome::Model>);

impl Leaves for ProfilingOutcome {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let o = self.0.as_ref();
        Some(match name {
            "complete" => value(&o.is_some()),
            "completedAt" => time_opt(&o.map(|o| o.completed_at)),
            "sessionId" => value(&o.map(|o| ids::encode(Kind::ProfilingSession, o.session_id))),
            "trackKey" => text_opt(o.map(|o| o.track_key.as_str())),
            _ => return None,
        })
    }
}

/// The outcome of a learner's latest completed profiling session.
#[Object]
impl ProfilingOutcome {
    /// True once a profiling session has been completed.
    async fn complete(&self) -> bool {
        self.0.is_some()
    }
    /// When the latest session was completed.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.as_ref().map(|o| o.completed_at)
    }
    /// The latest completed profiling session.
    async fn session_id(&self) -> Option<ID> {
        self.0.as_ref().map(|o| ids::encode(Kind::ProfilingSession, o.session_id))
    }
    /// The primary track: `defender`, `offensive`, `innovation`, `leadership` or `grc`.
    async fn track_key(&self) -> Option<&str> {
        self.0.as_ref().map(|o| o.track_key.as_str())
    }
    /// Alignment over the five tracks (empty before completion).
    async fn alignment(&self) -> ApiResult<List<TrackAlignment>> {
        let shares = self.0.as_ref().map(store::profiling::outcome_alignment).transpose()?;
        Ok(List(alignment(shares.unwrap_or_default())))
    }
}

/// An item of a learner's career portfolio.
pub struct PortfolioItem {
    _scope: LearnerScope,
    row: portfolio_item::Model,
}

impl PortfolioItem {
    pub fn new(scope: LearnerScope, row: portfolio_item::Model) -> Self {
        PortfolioItem { _scope: scope, row }
    }
}

impl Leaves for PortfolioItem {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::PortfolioItem, r.id),
            "kind" => value(&PortfolioKind::from(r.kind)),
            "title" => text(&r.title),
            "content" => text(&r.content),
            "url" => text_opt(r.url.as_deref()),
            "profilingSessionId" => value(&r.profiling_session_id.map(|id| ids::encode(Kind::ProfilingSession, id))),
            "createdAt" => time(&r.created_at),
            "updatedAt" => time(&r.updated_at),
            _ => return None,
        })
    }
}

/// An item of a learner's career portfolio.
#[Object]
impl PortfolioItem {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::PortfolioItem, self.row.id)
    }
    /// What it is.
    async fn kind(&self) -> PortfolioKind {
        self.row.kind.into()
    }
    /// Its title.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// Its text (the Value Statement's sentences, one per line).
    async fn content(&self) -> &str {
        &self.row.content
    }
    /// A link to it, if any.
    async fn url(&self) -> Option<&str> {
        self.row.url.as_deref()
    }
    /// The profiling session a VALUE_STATEMENT was last written from.
    async fn profiling_session_id(&self) -> Option<ID> {
        self.row.profiling_session_id.map(|id| ids::encode(Kind::ProfilingSession, id))
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// A learning recipe of the shared catalog.
pub struct Recipe {
    row: recipe::Model,
}

impl Recipe {
    pub fn new(row: recipe::Model) -> Self {
        Recipe { row }
    }
}

/// A learning recipe of the shared catalog.
#[Object]
impl Recipe {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Recipe, self.row.id)
    }
    /// Unique, human-readable key.
    async fn slug(&self) -> &str {
        &self.row.slug
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// Description, if any.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    /// The skills it teaches (at most 50).
    async fn skill_codes(&self) -> ApiResult<Vec<String>> {
        store::profiling::skill_codes(&self.row)
    }
    /// How often it has been used.
    async fn usage_count(&self) -> i64 {
        self.row.usage_count
    }
    /// Average rating, 0..=5.
    async fn avg_rating(&self) -> f64 {
        self.row.avg_rating
    }
    /// Inactive recipes are never recommended.
    async fn is_active(&self) -> bool {
        self.row.is_active
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// A recipe recommended to a learner, and why.
pub struct RecipeRecommendation {
    row: recipe::Model,
    reasons: Vec<String>,
}

impl Leaves for RecipeRecommendation {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let r = &self.row;
        Some(match name {
            "id" => id(Kind::Recipe, r.id),
            "slug" => text(&r.slug),
            "title" => text(&r.title),
            // A stored list that does not read goes to the resolver, which reports it.
            "skillCodes" => value(&store::profiling::skill_codes(r).ok()?),
            "usageCount" => value(&r.usage_count),
            "avgRating" => value(&r.avg_rating),
            "reasons" => value(&self.reasons),
            _ => return None,
        })
    }
}

/// A recipe recommended to a learner, and why.
#[Object]
impl RecipeRecommendation {
    /// The recipe's global id.
    async fn id(&self) -> ID {
        ids::encode(Kind::Recipe, self.row.id)
    }
    /// The recipe's slug.
    async fn slug(&self) -> &str {
        &self.row.slug
    }
    /// The recipe's title.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// The recipe's skill codes (at most 50).
    async fn skill_codes(&self) -> ApiResult<Vec<String>> {
        store::profiling::skill_codes(&self.row)
    }
    /// How often it has been used.
    async fn usage_count(&self) -> i64 {
        self.row.usage_count
    }
    /// Average rating, 0..=5.
    async fn avg_rating(&self) -> f64 {
        self.row.avg_rating
    }
    /// Why it is recommended: one line per gap skill it matches, e.g. "matches gap skill NET-101
    /// from track defender".
    async fn reasons(&self) -> &[String] {
        &self.reasons
    }
    /// The recipe itself.
    async fn recipe(&self) -> Recipe {
        Recipe::new(self.row.clone())
    }
}

/// Something to coach a learner on, and why.
#[derive(SimpleObject)]
pub struct CoachingFocus {
    /// The focus area.
    pub area: String,
    /// Why, from the profiling outcome.
    pub reason: String,
    /// The skills it builds.
    pub skill_codes: Vec<String>,
}

/// The profiling fields of `Learner`.
pub struct LearnerProfiling(pub LearnerScope);

/// The profiling fields of `Learner`.
#[Object]
impl LearnerProfiling {
    /// Profiling sessions, newest first (a learner has at most 100).
    #[graphql(complexity = "page::cost_with(first, 10, child_complexity)")]
    async fn profiling_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 1..=100 (default 10).")] first: Option<i32>,
    ) -> ApiResult<List<ProfilingSession>> {
        let n = validate::page_size(first, 10)?;
        let rows = loaders::all_of::<profiling_session::Entity>(ctx, &self.0).await?;
        Ok(List(rows.into_iter().rev().take(n as usize).map(|r| ProfilingSession::new(self.0.clone(), r)).collect()))
    }
    /// The outcome of the latest completed profiling session (`complete` is false before one).
    async fn profiling(&self, ctx: &Context<'_>) -> ApiResult<Fast<ProfilingOutcome>> {
        let rows = loaders::all_of::<profiling_outcome::Entity>(ctx, &self.0).await?;
        Ok(Fast(ProfilingOutcome(rows.into_iter().next())))
    }
    /// The portfolio, oldest first (at most 100 items; the Value Statement is one of them).
    #[graphql(complexity = "MAX_PER_KIND * child_complexity.max(1) + 1")]
    async fn portfolio(&self, ctx: &Context<'_>) -> ApiResult<List<PortfolioItem>> {
        let rows = loaders::all_of::<portfolio_item::Entity>(ctx, &self.0).await?;
        Ok(List(rows.into_iter().take(MAX_PER_KIND).map(|r| PortfolioItem::new(self.0.clone(), r)).collect()))
    }
    /// Active recipes that teach a gap skill of the profiling outcome (the primary track's skills
    /// and the weak modules' skills), by usage count, then rating, then slug; empty before
    /// profiling is complete.
    #[graphql(complexity = "page::cost_with(first, 10, child_complexity)")]
    async fn recipe_recommendations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 1..=100 (default 10).")] first: Option<i32>,
    ) -> ApiResult<List<RecipeRecommendation>> {
        let n = validate::page_size(first, 10)?;
        let recs = loaders::recommendations(ctx, &self.0, n).await?;
        Ok(List(recs.into_iter().map(|(row, reasons)| RecipeRecommendation { row, reasons }).collect()))
    }
    /// What to coach the learner on: the primary track, tracks within 5 points of it, then each
    /// weak module, each with its reason; empty before profiling is complete.
    async fn coaching_focus(&self, ctx: &Context<'_>) -> ApiResult<Vec<CoachingFocus>> {
        let rows = loaders::all_of::<profiling_outcome::Entity>(ctx, &self.0).await?;
        let Some(o) = rows.first() else { return Ok(Vec::new()) };
        let state = parts(ctx)?.0;
        let focus = rules::coaching_focus(
            state.profiling.skill_map(),
            &store::profiling::outcome_alignment(o)?,
            &o.track_key,
            &store::profiling::outcome_weak(o)?,
        );
        Ok(focus
            .into_iter()
            .map(|f| CoachingFocus { area: f.area, reason: f.reason, skill_codes: f.skill_codes })
            .collect())
    }
}

#[derive(Default)]
pub struct ProfilingQuery;

#[Object]
impl ProfilingQuery {
    /// The questions of the current question-bank version (or of `version`), in bank order.
    async fn profiling_questions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the questions of this module.")] module: Option<String>,
        #[graphql(desc = "A published version; the current one when left out.")] version: Option<i32>,
    ) -> ApiResult<Vec<ProfilingQuestion>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_token()?;
        let module = module_arg(module)?;
        let bank = match version {
            Some(v) => state.profiling.bank(&state.reader, v).await?,
            None => state.profiling.current(&state.reader).await?.1,
        };
        Ok(questions(&bank, module.as_deref()))
    }

    /// A published question-bank version (the current one when `version` is left out).
    async fn profiling_question_bank(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A published version; the current one when left out.")] version: Option<i32>,
    ) -> ApiResult<Option<ProfilingQuestionBank>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_token()?;
        let version = match version {
            Some(v) => v,
            None => state.profiling.current(&state.reader).await?.0,
        };
        let Some(row) = profiling_question_bank::Entity::find_by_id(version).one(&state.reader).await? else {
            return Ok(None);
        };
        let bank = state.profiling.bank(&state.reader, version).await?;
        Ok(Some(ProfilingQuestionBank { row, bank }))
    }

    /// The recipe catalog, newest first, optionally only recipes teaching one skill code.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn recipes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only recipes with this skill code.")] skill_code: Option<String>,
    ) -> ApiResult<page::Connection<Recipe>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_token()?;
        let mut select = recipe::Entity::find();
        if let Some(code) = skill_code {
            let code = validate::lookup("skillCode", code)?;
            let with = Query::select()
                .column(entity::recipe_skill::Column::RecipeId)
                .from(entity::recipe_skill::Entity)
                .and_where(Expr::col(entity::recipe_skill::Column::SkillCode).eq(code))
                .to_owned();
            select = select.filter(recipe::Column::Id.in_subquery(with));
        }
        page::keyset(
            &state.reader,
            select,
            (recipe::Column::CreatedAt, recipe::Column::Id),
            first,
            after,
            |r| (r.created_at, r.id),
            Recipe::new,
        )
        .await
    }
}

/// Starts profiling.
#[derive(InputObject)]
pub struct StartProfilingSessionInput {
    /// The learner.
    pub learner_id: ID,
}

/// The result of `startProfilingSession`.
#[derive(SimpleObject)]
pub struct StartProfilingSessionPayload {
    /// The learner's IN_PROGRESS session.
    pub session: ProfilingSession,
    /// False when the learner already had one open (it is returned, nothing is created).
    pub created: bool,
}

/// One answer.
#[derive(InputObject)]
pub struct AnswerProfilingQuestionInput {
    /// The IN_PROGRESS session.
    pub session_id: ID,
    /// A question of the session's bank version.
    pub question_id: String,
    /// One of the question's option values.
    pub selected_option: String,
    /// How long the learner took, 0..=3,600,000 ms.
    pub response_time_ms: i32,
    /// A retry with the same key returns the response as it stands and changes nothing
    /// (1..=128 characters, unique per learner).
    pub idempotency_key: Option<String>,
}

/// The result of `answerProfilingQuestion`.
#[derive(SimpleObject)]
pub struct AnswerProfilingQuestionPayload {
    /// The stored response.
    pub response: ProfilingResponse,
}

/// Completes a session.
#[derive(InputObject)]
pub struct CompleteProfilingSessionInput {
    /// The session.
    pub session_id: ID,
}

/// The result of `completeProfilingSession`.
#[derive(SimpleObject)]
pub struct CompleteProfilingSessionPayload {
    /// The completed session, with its telemetry.
    pub session: ProfilingSession,
    /// The learner, with the outcome and the Value Statement.
    pub learner: Learner,
}

/// A new question-bank version.
#[derive(InputObject)]
pub struct PublishProfilingQuestionBankInput {
    /// The bank: `{"questions": [{"id", "module", "prompt", "options": [{"value", "label",
    /// "weights"?, "score"?, "cluster"?, "statement"?}]}]}` (see the README).
    pub bank: Json<serde_json::Value>,
}

/// The result of `publishProfilingQuestionBank`.
#[derive(SimpleObject)]
pub struct PublishProfilingQuestionBankPayload {
    /// The current version.
    pub bank: ProfilingQuestionBank,
    /// False when the bank equals the current version (nothing was stored).
    pub created: bool,
}

/// A new portfolio item.
#[derive(InputObject)]
pub struct CreatePortfolioItemInput {
    /// The learner.
    pub learner_id: ID,
    /// Any kind but VALUE_STATEMENT (profiling writes that one).
    pub kind: PortfolioKind,
    /// 1..=200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub content: Option<String>,
    /// An http(s) link, at most 2,000 characters.
    pub url: Option<String>,
}

/// Changes to a portfolio item; fields left out stay.
#[derive(InputObject)]
pub struct UpdatePortfolioItemInput {
    /// The item (not the VALUE_STATEMENT).
    pub item_id: ID,
    /// 1..=200 characters.
    pub title: Option<String>,
    /// At most 20,000 characters.
    pub content: Option<String>,
    /// An http(s) link; null removes it.
    pub url: MaybeUndefined<String>,
}

/// Deletes a portfolio item.
#[derive(InputObject)]
pub struct DeletePortfolioItemInput {
    /// The item (not the VALUE_STATEMENT).
    pub item_id: ID,
}

/// The result of `createPortfolioItem` and `updatePortfolioItem`.
#[derive(SimpleObject)]
pub struct PortfolioItemPayload {
    /// The item as stored.
    pub item: PortfolioItem,
}

/// The result of `deletePortfolioItem`.
#[derive(SimpleObject)]
pub struct DeletePortfolioItemPayload {
    /// The deleted item's id.
    pub deleted_item_id: ID,
}

/// A recipe of the catalog, by slug.
#[derive(InputObject)]
pub struct UpsertRecipeInput {
    /// 1..=100 of a-z, 0-9 and `-`; the recipe's key.
    pub slug: String,
    /// 1..=200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub description: Option<String>,
    /// Skill codes (A-Z, 0-9, `-`; at most 50).
    pub skill_codes: Vec<String>,
    /// How often it has been used (default 0).
    pub usage_count: Option<i64>,
    /// Average rating, 0..=5 (default 0).
    pub avg_rating: Option<f64>,
    /// Inactive recipes are never recommended (default true).
    pub is_active: Option<bool>,
}

/// The result of `upsertRecipe`.
#[derive(SimpleObject)]
pub struct UpsertRecipePayload {
    /// The recipe as stored.
    pub recipe: Recipe,
    /// True when the slug was new.
    pub created: bool,
}

fn content(value: Option<String>) -> ApiResult<Option<String>> {
    value.map(|c| validate::text("content", &c, store::profiling::MAX_CONTENT_CHARS)).transpose()
}

#[derive(Default)]
pub struct ProfilingMutation;

#[Object]
impl ProfilingMutation {
    /// Starts a profiling session on the current question bank, or returns the learner's
    /// IN_PROGRESS one (a learner has at most one open, and at most 100 in all).
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn start_profiling_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner.")] input: StartProfilingSessionInput,
    ) -> ApiResult<StartProfilingSessionPayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let (row, created) = store::profiling::start(&txn, &scope, &state.profiling, now).await?;
        txn.commit().await?;
        Ok(StartProfilingSessionPayload { session: ProfilingSession::new(scope, row), created })
    }

    /// Stores the answer to one question (answering a question again replaces its answer). A
    /// question or option the session's bank does not have is BAD_USER_INPUT; a completed session
    /// is CONFLICT.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn answer_profiling_question(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session, the question and the answer.")] input: AnswerProfilingQuestionInput,
    ) -> ApiResult<AnswerProfilingQuestionPayload> {
        if !(0..=store::profiling::MAX_RESPONSE_TIME_MS).contains(&input.response_time_ms) {
            return Err(ApiError::bad_input("responseTimeMs", "must be between 0 and 3600000"));
        }
        let new = NewAnswer {
            question_id: validate::lookup("questionId", input.question_id)?,
            selected_option: validate::lookup("selectedOption", input.selected_option)?,
            response_time_ms: input.response_time_ms,
            idempotency_key: input
                .idempotency_key
                .map(|k| validate::key("idempotencyKey", &k, validate::MAX_KEY_CHARS))
                .transpose()?,
        };
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let (txn, scope, session) = access::write_owned::<profiling_session::Entity>(
            ctx,
            "sessionId",
            &input.session_id,
            Kind::ProfilingSession,
        )
        .await?;
        let row = store::profiling::answer(&txn, &scope, &state.profiling, session, new, now).await?;
        txn.commit().await?;
        Ok(AnswerProfilingQuestionPayload { response: ProfilingResponse(row) })
    }

    /// Completes a session in one transaction: computes the telemetry, writes the outcome on the
    /// learner and creates (or updates) the learner's one VALUE_STATEMENT. Every module needs at
    /// least one answer (BAD_USER_INPUT lists the missing ones). Completing again returns the
    /// same result and changes nothing.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn complete_profiling_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] input: CompleteProfilingSessionInput,
    ) -> ApiResult<CompleteProfilingSessionPayload> {
        let state = parts(ctx)?.0;
        let now = state.clock.now();
        let (mut txn, scope, session) = access::write_owned::<profiling_session::Entity>(
            ctx,
            "sessionId",
            &input.session_id,
            Kind::ProfilingSession,
        )
        .await?;
        let (row, completed_now) = store::profiling::complete(&txn, &scope, &state.profiling, session, now).await?;
        if completed_now {
            txn.activity(scope.id(), ActivityKind::ProfilingCompleted, Some(row.id));
        }
        txn.commit().await?;
        Ok(CompleteProfilingSessionPayload {
            session: ProfilingSession::new(scope.clone(), row),
            learner: Learner::new(scope),
        })
    }

    /// Publishes a new question-bank version (staff). New sessions use it; sessions already
    /// started keep theirs. A bank equal to the current version stores nothing.
    async fn publish_profiling_question_bank(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The bank.")] input: PublishProfilingQuestionBankInput,
    ) -> ApiResult<PublishProfilingQuestionBankPayload> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_staff()?;
        validate::json_size("bank", &input.bank.0, MAX_BANK_BYTES)?;
        let bank =
            rules::Bank::parse(input.bank.0).map_err(|problems| ApiError::bad_input("bank", problems.join("; ")))?;
        let now = state.clock.now();
        let txn = state.begin_write().await?;
        let (row, created) = store::profiling::publish(&txn, &state.profiling, bank, &viewer.name(), now).await?;
        txn.commit().await?;
        let bank = state.profiling.bank(&state.reader, row.version).await?;
        Ok(PublishProfilingQuestionBankPayload { bank: ProfilingQuestionBank { row, bank }, created })
    }

    /// Adds a portfolio item (any kind but VALUE_STATEMENT; at most 100 per learner).
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn create_portfolio_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the item.")] input: CreatePortfolioItemInput,
    ) -> ApiResult<PortfolioItemPayload> {
        let fields = PortfolioFields {
            title: Some(store::profiling::title(&input.title)?),
            content: content(input.content)?,
            url: Some(input.url.map(|u| store::profiling::url(&u)).transpose()?),
        };
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope) = access::write_learner(ctx, "learnerId", &input.learner_id).await?;
        let row = store::profiling::create_item(&txn, &scope, input.kind.into(), fields, now).await?;
        txn.commit().await?;
        Ok(PortfolioItemPayload { item: PortfolioItem::new(scope, row) })
    }

    /// Changes a portfolio item's title, content or URL (not the VALUE_STATEMENT's).
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_portfolio_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item and the fields to change.")] input: UpdatePortfolioItemInput,
    ) -> ApiResult<PortfolioItemPayload> {
        let fields = PortfolioFields {
            title: input.title.map(|t| store::profiling::title(&t)).transpose()?,
            content: content(input.content)?,
            url: match input.url {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(u) => Some(Some(store::profiling::url(&u)?)),
            },
        };
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope, item) =
            access::write_owned::<portfolio_item::Entity>(ctx, "itemId", &input.item_id, Kind::PortfolioItem).await?;
        let row = store::profiling::update_item(&txn, item, fields, now).await?;
        txn.commit().await?;
        Ok(PortfolioItemPayload { item: PortfolioItem::new(scope, row) })
    }

    /// Deletes a portfolio item (not the VALUE_STATEMENT).
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn delete_portfolio_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item.")] input: DeletePortfolioItemInput,
    ) -> ApiResult<DeletePortfolioItemPayload> {
        let (txn, _scope, item) =
            access::write_owned::<portfolio_item::Entity>(ctx, "itemId", &input.item_id, Kind::PortfolioItem).await?;
        let id = item.id;
        store::profiling::delete_item(&txn, item).await?;
        txn.commit().await?;
        Ok(DeletePortfolioItemPayload { deleted_item_id: ids::encode(Kind::PortfolioItem, id) })
    }

    /// Creates or replaces a recipe of the catalog by slug (staff and services).
    async fn upsert_recipe(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The recipe.")] input: UpsertRecipeInput,
    ) -> ApiResult<UpsertRecipePayload> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_privileged()?;
        let new = NewRecipe {
            slug: input.slug.trim().to_owned(),
            title: store::profiling::title(&input.title)?,
            description: input
                .description
                .map(|d| validate::text("description", &d, store::profiling::MAX_CONTENT_CHARS))
                .transpose()?,
            skill_codes: dedup(input.skill_codes.into_iter().map(|c| c.trim().to_owned())),
            usage_count: input.usage_count.unwrap_or(0),
            avg_rating: input.avg_rating.unwrap_or(0.0),
            is_active: input.is_active.unwrap_or(true),
        };
        store::profiling::recipe_rules(&new)?;
        let now = state.clock.now();
        let txn = state.begin_write().await?;
        let (row, created) = store::profiling::upsert_recipe(&txn, new, now).await?;
        txn.commit().await?;
        Ok(UpsertRecipePayload { recipe: Recipe::new(row), created })
    }
}

/// Largest accepted question bank, in bytes of JSON.
pub const MAX_BANK_BYTES: usize = 512 * 1024;

fn dedup(codes: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in codes {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
