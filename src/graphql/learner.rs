//! Learners: the `Learner` type, `viewer`/`learner`/`learners`, and ensure/update/delete.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::learner;
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TryInsertResult};
use serde_json::json;

use super::access::{self, parts};
use super::event::{EventFilter, LearnerEvent};
use super::goal::{Goal, GoalStatus};
use super::ids::{self, Kind};
use super::page;
use super::progress::{self, Attempt, AttemptFilter, ProgressStats, Session, SessionKind, Streak};
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};

/// A learner: the person whose data learngraph keeps.
pub struct Learner(pub learner::Model);

/// Display preferences kept with the learner.
#[derive(SimpleObject, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LearnerSettings {
    /// UI theme name chosen by the learner (free text, e.g. `dark`).
    pub theme: Option<String>,
    /// Preferred meditation length in minutes.
    pub preferred_meditation_minutes: Option<i32>,
    /// Preferred mentor category for the wellbeing companion.
    pub preferred_mentor_category: Option<String>,
}

#[Object]
impl Learner {
    /// Global id (opaque).
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Learner, self.0.id)
    }
    /// The client's own key for this learner (e.g. `user_7`).
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }
    /// IANA time zone; practice days and streaks are counted in it. Default `UTC`.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    async fn settings(&self) -> LearnerSettings {
        serde_json::from_value(self.0.settings.clone()).unwrap_or_default()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The learner's goals, oldest first, optionally only those with `status`.
    async fn goals(&self, ctx: &Context<'_>, status: Option<GoalStatus>) -> ApiResult<Vec<Goal>> {
        super::goal::goals_of(ctx, self.0.id, status).await
    }

    /// One goal of this learner, by global `id` or by the client's `externalId`; null if none.
    async fn goal(&self, ctx: &Context<'_>, id: Option<ID>, external_id: Option<String>) -> ApiResult<Option<Goal>> {
        super::goal::goal_of(ctx, self.0.id, id, external_id).await
    }

    /// The interaction log, newest first (by `occurredAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only events of this kind.")] kind: Option<String>,
        #[graphql(desc = "Only events about this goal.")] goal_id: Option<ID>,
    ) -> ApiResult<Connection<String, LearnerEvent>> {
        super::event::events_of(ctx, self.0.id, EventFilter { first, after, kind, goal_id }).await
    }

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
    ) -> ApiResult<Connection<String, Attempt>> {
        let filter = AttemptFilter { first, after, exercise_id, session_id, goal_id, since, until };
        progress::attempts_of(ctx, self.0.id, None, filter).await
    }

    /// Sessions of any kind, newest first (by `startedAt`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only sessions of this kind.")] kind: Option<SessionKind>,
    ) -> ApiResult<Connection<String, Session>> {
        progress::sessions_of(ctx, self.0.id, first, after, kind).await
    }

    /// Practice streak in the learner's time zone; `current` is 0 once a day is missed.
    async fn streak(&self, ctx: &Context<'_>) -> ApiResult<Streak> {
        progress::streak_of(ctx, &self.0).await
    }

    /// Practice totals, accuracy and per-day and per-exercise statistics.
    async fn progress(&self, ctx: &Context<'_>) -> ApiResult<ProgressStats> {
        progress::progress_of(ctx, &self.0).await
    }
}

#[derive(Default)]
pub struct LearnerQuery;

#[Object]
impl LearnerQuery {
    /// The learner the bearer token belongs to (null for staff and service tokens).
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Option<Learner>> {
        let (state, viewer) = parts(ctx)?;
        match viewer {
            crate::auth::Viewer::Learner { external_id } => {
                let found =
                    learner::Entity::find().filter(learner::Column::ExternalId.eq(external_id)).one(&state.db).await?;
                Ok(found.map(Learner))
            }
            crate::auth::Viewer::Anonymous => Err(ApiError::Unauthenticated("a bearer token is required".into())),
            _ => Ok(None),
        }
    }

    /// One learner, by global `id` or by `externalId` (exactly one of them).
    async fn learner(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        external_id: Option<String>,
    ) -> ApiResult<Option<Learner>> {
        let (state, viewer) = parts(ctx)?;
        let found = match (id, external_id) {
            (Some(id), None) => access::learner_by_gid(&state.db, viewer, "id", &id).await,
            (None, Some(ext)) => {
                let ext = validate::lookup("externalId", ext)?;
                access::learner_by_external_id(&state.db, viewer, &ext).await
            }
            _ => return Err(ApiError::bad_input("id", "give exactly one of `id` and `externalId`")),
        };
        Ok(access::optional(found)?.map(Learner))
    }

    /// All learners, newest first (staff only). `search` matches externalId or displayName,
    /// case-insensitively.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn learners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Substring of externalId or displayName.")] search: Option<String>,
    ) -> ApiResult<Connection<String, Learner>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_staff()?;
        let mut select = learner::Entity::find();
        if let Some(search) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let search = validate::text("search", search, validate::MAX_NAME_CHARS)?;
            // Case-folded in Rust on both sides: SQLite's lower() folds only ASCII, PostgreSQL's
            // follows the collation, so folding in SQL would make the engines disagree.
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            select = select.filter(Expr::col(learner::Column::SearchText).like(LikeExpr::new(pattern).escape('\\')));
        }
        page::keyset(
            &state.db,
            select,
            (learner::Column::CreatedAt, learner::Column::Id),
            first,
            after,
            |l| (l.created_at, l.id),
            Learner,
        )
        .await
    }
}

/// What the staff search matches: both names, case-folded, on separate lines (so a pattern never
/// matches across the two).
fn search_text(external_id: &str, display_name: Option<&str>) -> String {
    format!("{}\n{}", external_id.to_lowercase(), display_name.unwrap_or("").to_lowercase())
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Get-or-create a learner by the client's key.
#[derive(InputObject)]
pub struct EnsureLearnerInput {
    /// The client's own key (1..=128 characters, trimmed).
    pub external_id: String,
    /// Used only when the learner is created.
    pub display_name: Option<String>,
    /// IANA time zone, used only when the learner is created (default `UTC`).
    pub time_zone: Option<String>,
}

#[derive(SimpleObject)]
pub struct EnsureLearnerPayload {
    pub learner: Learner,
    /// True for the one call that created the learner.
    pub created: bool,
}

/// Settings to change; a field left out is unchanged, a field set to null is cleared.
#[derive(InputObject, Default)]
pub struct LearnerSettingsInput {
    pub theme: MaybeUndefined<String>,
    /// 1..=600 minutes.
    pub preferred_meditation_minutes: MaybeUndefined<i32>,
    pub preferred_mentor_category: MaybeUndefined<String>,
}

/// Changes to a learner; a field left out is unchanged, a nullable field set to null is cleared.
#[derive(InputObject)]
pub struct UpdateLearnerInput {
    pub id: ID,
    pub display_name: MaybeUndefined<String>,
    pub bio: MaybeUndefined<String>,
    /// IANA time zone (e.g. `Pacific/Auckland`); null leaves it unchanged.
    pub time_zone: Option<String>,
    pub settings: Option<LearnerSettingsInput>,
}

#[derive(SimpleObject)]
pub struct UpdateLearnerPayload {
    pub learner: Learner,
}

#[derive(InputObject)]
pub struct DeleteLearnerInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteLearnerPayload {
    /// The id of the erased learner (also when it was already erased).
    pub deleted_learner_id: ID,
}

#[derive(Default)]
pub struct LearnerMutation;

#[Object]
impl LearnerMutation {
    /// Returns the learner with this `externalId`, creating it if needed. Safe to call from many
    /// clients at once: exactly one call creates the learner and says `created: true`.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn ensure_learner(&self, ctx: &Context<'_>, input: EnsureLearnerInput) -> ApiResult<EnsureLearnerPayload> {
        let (state, viewer) = parts(ctx)?;
        let external_id = validate::key("externalId", &input.external_id, validate::MAX_EXTERNAL_ID_CHARS)?;
        viewer.may_ensure(&external_id)?;
        let display_name =
            input.display_name.map(|n| validate::text("displayName", &n, validate::MAX_NAME_CHARS)).transpose()?;
        let time_zone = match input.time_zone {
            Some(tz) => validate::time_zone("timeZone", &tz)?.name().to_owned(),
            None => "UTC".to_owned(),
        };
        let now = state.clock.now();
        let (txn, _turn) = state.begin_write().await?;
        let row = learner::ActiveModel {
            id: Set(Uuid::now_v7()),
            external_id: Set(external_id.clone()),
            search_text: Set(search_text(&external_id, display_name.as_deref())),
            display_name: Set(display_name),
            bio: Set(None),
            time_zone: Set(time_zone),
            settings: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // ON CONFLICT DO NOTHING makes concurrent first calls race-safe on both engines: the
        // losers wait for the winner's row and then insert nothing.
        let inserted = learner::Entity::insert(row)
            .on_conflict_do_nothing_on([learner::Column::ExternalId])
            .exec_without_returning(&txn)
            .await?;
        let created = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
        let found = learner::Entity::find()
            .filter(learner::Column::ExternalId.eq(&external_id))
            .one(&txn)
            .await?
            .ok_or(ApiError::Internal)?;
        txn.commit().await?;
        Ok(EnsureLearnerPayload { learner: Learner(found), created })
    }

    /// Changes a learner's name, bio, time zone or settings.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_learner(&self, ctx: &Context<'_>, input: UpdateLearnerInput) -> ApiResult<UpdateLearnerPayload> {
        let (state, viewer) = parts(ctx)?;
        let (txn, _turn) = state.begin_write().await?;
        let current = access::learner_by_gid(&txn, viewer, "id", &input.id).await?;
        let mut settings: LearnerSettings = serde_json::from_value(current.settings.clone()).unwrap_or_default();
        let mut row: learner::ActiveModel = current.into();
        match input.display_name {
            MaybeUndefined::Value(n) => {
                row.display_name = Set(Some(validate::text("displayName", &n, validate::MAX_NAME_CHARS)?))
            }
            MaybeUndefined::Null => row.display_name = Set(None),
            MaybeUndefined::Undefined => {}
        }
        match input.bio {
            MaybeUndefined::Value(b) => row.bio = Set(Some(validate::text("bio", &b, validate::MAX_TEXT_CHARS)?)),
            MaybeUndefined::Null => row.bio = Set(None),
            MaybeUndefined::Undefined => {}
        }
        if let (sea_orm::ActiveValue::Set(name), sea_orm::ActiveValue::Unchanged(ext)) =
            (&row.display_name, &row.external_id)
        {
            row.search_text = Set(search_text(ext, name.as_deref()));
        }
        if let Some(tz) = input.time_zone {
            row.time_zone = Set(validate::time_zone("timeZone", &tz)?.name().to_owned());
        }
        if let Some(s) = input.settings {
            apply_settings(&mut settings, s)?;
            row.settings = Set(serde_json::to_value(&settings).map_err(|_| ApiError::Internal)?);
        }
        row.updated_at = Set(state.clock.now());
        let updated = row.update(&txn).await?;
        txn.commit().await?;
        Ok(UpdateLearnerPayload { learner: Learner(updated) })
    }

    /// Erases a learner and every row that belongs to it, in one transaction. Repeating it is
    /// not an error.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn delete_learner(&self, ctx: &Context<'_>, input: DeleteLearnerInput) -> ApiResult<DeleteLearnerPayload> {
        let (state, viewer) = parts(ctx)?;
        let id = ids::decode("id", &input.id, Kind::Learner)?;
        let (txn, _turn) = state.begin_write().await?;
        match access::learner(&txn, viewer, id).await {
            Ok(found) => crate::store::learner::erase(&txn, found.id).await?,
            // Already gone: privileged viewers may repeat the call.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        txn.commit().await?;
        tracing::info!(learner_id = %id, "learner erased");
        Ok(DeleteLearnerPayload { deleted_learner_id: input.id })
    }
}

fn apply_settings(settings: &mut LearnerSettings, input: LearnerSettingsInput) -> ApiResult<()> {
    fn text(field: &str, v: MaybeUndefined<String>, slot: &mut Option<String>) -> ApiResult<()> {
        match v {
            MaybeUndefined::Value(t) => *slot = Some(validate::text(field, &t, validate::MAX_NAME_CHARS)?),
            MaybeUndefined::Null => *slot = None,
            MaybeUndefined::Undefined => {}
        }
        Ok(())
    }
    text("settings.theme", input.theme, &mut settings.theme)?;
    text("settings.preferredMentorCategory", input.preferred_mentor_category, &mut settings.preferred_mentor_category)?;
    match input.preferred_meditation_minutes {
        MaybeUndefined::Value(m) if !(1..=600).contains(&m) => {
            return Err(ApiError::bad_input("settings.preferredMeditationMinutes", "must be between 1 and 600"));
        }
        MaybeUndefined::Value(m) => settings.preferred_meditation_minutes = Some(m),
        MaybeUndefined::Null => settings.preferred_meditation_minutes = None,
        MaybeUndefined::Undefined => {}
    }
    Ok(())
}
