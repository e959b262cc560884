//! Learners: the `Learner` type (merged from each domain's fields), `viewer`/`learner`/`learners`,
//! and ensure/update/delete.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, MergedObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::learner;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{EntityTrait, QueryFilter};

use super::access::{self, LearnerScope, parts};
use super::fast::{Fast, Leaf, Leaves, id, text, text_opt, time, value};
use super::ids::{self, Kind};
use super::page;
use crate::domain::validate;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::learner::{Change, LearnerChanges, NewLearner, Settings, SettingsChanges};

/// A learner: the person whose data learngraph keeps. Each domain contributes its own fields.
#[derive(MergedObject)]
pub struct Learner(
    LearnerCore,
    super::goal::LearnerGoals,
    super::event::LearnerEvents,
    super::session::LearnerSessions,
    super::practice::LearnerPractice,
    super::details::LearnerDetails,
    super::journal::LearnerJournal,
    super::companion::LearnerCompanion,
    super::meditation::LearnerMeditation,
    super::profiling::LearnerProfiling,
    super::audit::LearnerAudit,
);

impl Learner {
    pub fn new(scope: LearnerScope) -> Self {
        Learner(
            LearnerCore(scope.clone()),
            super::goal::LearnerGoals(scope.clone()),
            super::event::LearnerEvents(scope.clone()),
            super::session::LearnerSessions(scope.clone()),
            super::practice::LearnerPractice(scope.clone()),
            super::details::LearnerDetails(scope.clone()),
            super::journal::LearnerJournal(scope.clone()),
            super::companion::LearnerCompanion(scope.clone()),
            super::meditation::LearnerMeditation(scope.clone()),
            super::profiling::LearnerProfiling(scope.clone()),
            super::audit::LearnerAudit(scope),
        )
    }

    /// For the `Node` interface, which calls `id` on each of its types (a merged object has no
    /// method of its own).
    pub async fn id(&self, _ctx: &Context<'_>) -> async_graphql::Result<ID> {
        Ok(ids::encode(Kind::Learner, self.0.0.id()))
    }
}

impl Leaves for Learner {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let scope = &self.0.0;
        let m = scope.model();
        Some(match name {
            "id" => id(Kind::Learner, scope.id()),
            "externalId" => text(&m.external_id),
            "displayName" => text_opt(m.display_name.as_deref()),
            "bio" => text_opt(m.bio.as_deref()),
            "timeZone" => text(&m.time_zone),
            "createdAt" => time(&m.created_at),
            "updatedAt" => time(&m.updated_at),
            _ => return None,
        })
    }
}

/// The learner's own fields.
pub struct LearnerCore(LearnerScope);

/// Display preferences kept with the learner.
#[derive(SimpleObject)]
pub struct LearnerSettings {
    /// UI theme name chosen by the learner (free text, e.g. `dark`).
    pub theme: Option<String>,
    /// Preferred meditation length in minutes.
    pub preferred_meditation_minutes: Option<i32>,
    /// Preferred mentor category for the wellbeing companion.
    pub preferred_mentor_category: Option<String>,
}

impl Leaves for LearnerSettings {
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        Some(match name {
            "theme" => value(&self.theme),
            "preferredMeditationMinutes" => value(&self.preferred_meditation_minutes),
            "preferredMentorCategory" => value(&self.preferred_mentor_category),
            _ => return None,
        })
    }
}

/// The learner's own fields.
#[Object]
impl LearnerCore {
    /// Global id (opaque).
    async fn id(&self) -> ID {
        ids::encode(Kind::Learner, self.0.id())
    }
    /// The client's own key for this learner (e.g. `user_7`), unique.
    async fn external_id(&self) -> &str {
        &self.0.model().external_id
    }
    /// Name to show; null when none was given.
    async fn display_name(&self) -> Option<&str> {
        self.0.model().display_name.as_deref()
    }
    /// Free text about the learner, at most 10,000 characters.
    async fn bio(&self) -> Option<&str> {
        self.0.model().bio.as_deref()
    }
    /// IANA time zone; practice days and streaks are counted in it. Default `UTC`.
    async fn time_zone(&self) -> &str {
        &self.0.model().time_zone
    }
    /// Display preferences (theme, meditation length, mentor category).
    async fn settings(&self) -> ApiResult<Fast<LearnerSettings>> {
        let s = Settings::of(self.0.model())?;
        Ok(Fast(LearnerSettings {
            theme: s.theme,
            preferred_meditation_minutes: s.preferred_meditation_minutes,
            preferred_mentor_category: s.preferred_mentor_category,
        }))
    }
    /// When the learner was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.model().created_at
    }
    /// When the learner's own fields last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.model().updated_at
    }
}

#[derive(Default)]
pub struct LearnerQuery;

#[Object]
impl LearnerQuery {
    /// The learner the bearer token belongs to (null for staff and service tokens, and before a
    /// learner token's learner has been created).
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Option<Fast<Learner>>> {
        let (_, viewer) = parts(ctx)?;
        Ok(access::own_learner(ctx, viewer).await?.map(|scope| Fast(Learner::new(scope))))
    }

    /// One learner, by global `id` or by `externalId` (exactly one of them); null when it does not
    /// exist.
    async fn learner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner's global id.")] id: Option<ID>,
        #[graphql(desc = "The client's own key for the learner.")] external_id: Option<String>,
    ) -> ApiResult<Option<Fast<Learner>>> {
        let (state, viewer) = parts(ctx)?;
        let found = match (id, external_id) {
            (Some(id), None) => access::learner_by_gid(&state.reader, viewer, "id", &id).await,
            (None, Some(ext)) => {
                let ext = validate::lookup("externalId", ext)?;
                access::learner_by_external_id(ctx, viewer, &ext).await
            }
            _ => return Err(ApiError::bad_input("id", "give exactly one of `id` and `externalId`")),
        };
        Ok(access::optional(found)?.map(|scope| Fast(Learner::new(scope))))
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
    ) -> ApiResult<page::Connection<Learner>> {
        let (state, viewer) = parts(ctx)?;
        let scoped = access::all_learners(viewer)?;
        let mut select = learner::Entity::find();
        if let Some(search) = search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let search = validate::text("search", search, validate::MAX_NAME_CHARS)?;
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            select = select.filter(Expr::col(learner::Column::SearchText).like(LikeExpr::new(pattern).escape('\\')));
        }
        page::keyset(
            &state.reader,
            select,
            (learner::Column::CreatedAt, learner::Column::Id),
            first,
            after,
            |l| (l.created_at, l.id),
            |l| Learner::new(scoped.scope(l)),
        )
        .await
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Get-or-create a learner by the client's key.
#[derive(InputObject)]
pub struct EnsureLearnerInput {
    /// The client's own key (1..=128 characters, trimmed).
    pub external_id: String,
    /// Used only when the learner is created (at most 200 characters).
    pub display_name: Option<String>,
    /// IANA time zone, used only when the learner is created (default `UTC`).
    pub time_zone: Option<String>,
}

/// The result of `ensureLearner`.
#[derive(SimpleObject)]
pub struct EnsureLearnerPayload {
    /// The learner with that externalId.
    pub learner: Learner,
    /// True for the one call that created the learner.
    pub created: bool,
}

/// Settings to change; a field left out is unchanged, a field set to null is cleared.
#[derive(InputObject, Default)]
pub struct LearnerSettingsInput {
    /// UI theme name (at most 200 characters).
    pub theme: MaybeUndefined<String>,
    /// 1..=600 minutes.
    pub preferred_meditation_minutes: MaybeUndefined<i32>,
    /// Mentor category for the wellbeing companion (at most 200 characters).
    pub preferred_mentor_category: MaybeUndefined<String>,
}

/// Changes to a learner; a field left out is unchanged, a nullable field set to null is cleared.
#[derive(InputObject)]
pub struct UpdateLearnerInput {
    /// The learner to change.
    pub id: ID,
    /// At most 200 characters.
    pub display_name: MaybeUndefined<String>,
    /// At most 10,000 characters.
    pub bio: MaybeUndefined<String>,
    /// IANA time zone (e.g. `Pacific/Auckland`); null leaves it unchanged.
    pub time_zone: Option<String>,
    /// Settings to change.
    pub settings: Option<LearnerSettingsInput>,
}

fn change<T>(v: MaybeUndefined<T>) -> Change<T> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

impl UpdateLearnerInput {
    fn parse(self) -> ApiResult<(ID, LearnerChanges)> {
        let text = |field: &str, v: MaybeUndefined<String>, max: usize| -> ApiResult<Change<String>> {
            change(v).map(|v| v.map(|t| validate::text(field, &t, max)).transpose()).transpose()
        };
        let changes = LearnerChanges {
            display_name: text("displayName", self.display_name, validate::MAX_NAME_CHARS)?,
            bio: text("bio", self.bio, validate::MAX_TEXT_CHARS)?,
            time_zone: self.time_zone.map(|tz| validate::time_zone("timeZone", &tz)).transpose()?,
            settings: self
                .settings
                .map(|s| {
                    SettingsChanges::parse(
                        change(s.theme),
                        change(s.preferred_meditation_minutes),
                        change(s.preferred_mentor_category),
                    )
                })
                .transpose()?,
        };
        Ok((self.id, changes))
    }
}

/// The result of `updateLearner`.
#[derive(SimpleObject)]
pub struct UpdateLearnerPayload {
    /// The learner after the change.
    pub learner: Learner,
}

/// The learner to erase.
#[derive(InputObject)]
pub struct DeleteLearnerInput {
    /// The learner's global id.
    pub id: ID,
}

/// The result of `deleteLearner`.
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
    async fn ensure_learner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner to find or create.")] input: EnsureLearnerInput,
    ) -> ApiResult<EnsureLearnerPayload> {
        let new = NewLearner::parse(&input.external_id, input.display_name, input.time_zone)?;
        let now = parts(ctx)?.0.clock.now();
        let write = access::write_new_learner(ctx, &new.external_id).await?;
        let (row, created) = store::learner::ensure(&write.txn, new, now).await?;
        let scope = write.scope(row)?;
        write.txn.commit().await?;
        Ok(EnsureLearnerPayload { learner: Learner::new(scope), created })
    }

    /// Changes a learner's name, bio, time zone or settings.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn update_learner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner and the fields to change.")] input: UpdateLearnerInput,
    ) -> ApiResult<UpdateLearnerPayload> {
        let (id, changes) = input.parse()?;
        let now = parts(ctx)?.0.clock.now();
        let (txn, scope) = access::write_learner(ctx, "id", &id).await?;
        let updated = store::learner::update(&txn, scope.model(), changes, now).await?;
        txn.commit().await?;
        Ok(UpdateLearnerPayload { learner: Learner::new(scope.updated(updated)?) })
    }

    /// Erases a learner and every row that belongs to it, in one transaction. Repeating it is
    /// not an error.
    #[tracing::instrument(skip_all, fields(learner_id = tracing::field::Empty))]
    async fn delete_learner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner to erase.")] input: DeleteLearnerInput,
    ) -> ApiResult<DeleteLearnerPayload> {
        let id = ids::decode("id", &input.id, Kind::Learner)?;
        let (state, viewer) = parts(ctx)?;
        let (txn, scope) = access::write_learner_if_exists(ctx, id).await?;
        if let Some(scope) = scope {
            let by = store::audit::Actor::of(viewer);
            store::learner::erase(&txn, scope.model(), &by, "deleteLearner", state.clock.now()).await?;
            super::audit::erased(id);
        }
        txn.commit().await?;
        tracing::info!(learner_id = %id, "learner erased");
        Ok(DeleteLearnerPayload { deleted_learner_id: input.id })
    }
}
