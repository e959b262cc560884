//! One batched loader per relation (see `batch`): one `IN (…)` query per relation per list, so
//! lists do not query per row. Every key carries the learner the row must belong to, and a row of
//! another learner is never returned: the scope a parent was read under is the scope of what it
//! points at. Relations that reach the same table from different lists (`Attempt.goal`,
//! `LearnerEvent.goal`) have loaders of their own, so the statements of a request do not depend
//! on which lists happened to finish together. The bound is one statement per relation per place
//! it is selected: one field selected under two different lists in one query may share a batch or
//! not, depending on whether both lists arrive in the same pass.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::Context;
use chrono::NaiveDate;
use entity::goal::GoalStatus;
use entity::{
    attempt, badge, chat_message, cognitive_metric, cognitive_metric_record, conversation_state, event, goal, interest,
    journal_entry, journal_follow_up, learner, learner_progress, meditation_reflection, mentor_selection,
    objective_progress, portfolio_item, practice_day, preference, profiling_outcome, profiling_response,
    profiling_session, recipe, recipe_skill, session, struggle,
};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Alias, Asterisk, Condition, Expr, ExprTrait, Func, Query, SelectStatement, UnionType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, Order, PrimaryKeyToColumn, PrimaryKeyTrait, QueryFilter,
    QueryOrder, Select,
};

use super::access::{LearnerOwned, LearnerScope};
use super::batch::{BatchLoad, Batcher, Map};
use super::rows::Decode;
use crate::domain::profiling as rules;
use crate::error::{ApiError, ApiResult};
use crate::reader::Reader;
use crate::store::profiling::Catalog;

/// Registers every loader on a schema under construction.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    db: &Reader,
    catalog: &Arc<Catalog>,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .data(Batcher::new(ById::<goal::Entity, AttemptGoal>::new(db)))
        .data(Batcher::new(ById::<goal::Entity, EventGoal>::new(db)))
        .data(Batcher::new(ById::<session::Entity, AttemptSession>::new(db)))
        .data(Batcher::new(ById::<session::Entity, ReflectionSession>::new(db)))
        .data(Batcher::new(ById::<session::Entity, MessageSession>::new(db)))
        .data(Batcher::new(GoalsOfLearner(db.clone())))
        .data(Batcher::new(Progress(db.clone())))
        .data(Batcher::new(LearnerByExternalId(db.clone())))
        .data(Batcher::new(PracticeDays(db.clone())))
        .data(Batcher::new(OfLearner::<preference::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<interest::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<struggle::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<cognitive_metric::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<objective_progress::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<badge::Entity>::new(db)))
        .data(Batcher::new(ChildrenOf::<cognitive_metric_record::Entity>::new(db)))
        .data(Batcher::new(ChildrenOf::<attempt::Entity>::new(db)))
        .data(Batcher::new(ById::<journal_entry::Entity, FollowUpEntry>::new(db)))
        .data(Batcher::new(ById::<journal_entry::Entity, FollowUpSynthesis>::new(db)))
        .data(Batcher::new(ById::<journal_entry::Entity, ReflectionEntry>::new(db)))
        .data(Batcher::new(ChildrenOf::<journal_follow_up::Entity>::new(db)))
        .data(Batcher::new(ChildrenOf::<chat_message::Entity>::new(db)))
        .data(Batcher::new(ChildrenOf::<mentor_selection::Entity>::new(db)))
        .data(Batcher::new(SynthesizedFrom(db.clone())))
        .data(Batcher::new(ReflectionOfSession(db.clone())))
        .data(Batcher::new(StateByKey(db.clone())))
        .data(Batcher::new(OfLearner::<conversation_state::Entity>::new(db)))
        .data(Batcher::new(Activity(db.clone())))
        .data(Batcher::new(OfLearner::<profiling_session::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<profiling_outcome::Entity>::new(db)))
        .data(Batcher::new(OfLearner::<portfolio_item::Entity>::new(db)))
        .data(Batcher::new(ChildrenOf::<profiling_response::Entity>::new(db)))
        .data(Batcher::new(Recommendations { db: db.clone(), catalog: catalog.clone() }))
        .data(Batcher::new(PagesOf::<attempt::Entity, UnderLearner>::new(db)))
        .data(Batcher::new(PagesOf::<attempt::Entity, UnderParent>::new(db)))
        .data(Batcher::new(PagesOf::<session::Entity, UnderLearner>::new(db)))
        .data(Batcher::new(PagesOf::<event::Entity, UnderLearner>::new(db)))
        .data(Batcher::new(PagesOf::<journal_entry::Entity, UnderLearner>::new(db)))
        .data(Batcher::new(PagesOf::<meditation_reflection::Entity, UnderLearner>::new(db)))
        .data(Batcher::new(PagesOf::<entity::access_log::Entity, UnderLearner>::new(db)))
}

/// (learner, row id): a row that must belong to that learner.
pub type Owned = (Uuid, Uuid);

/// Relations, as loader tags.
pub enum AttemptGoal {}
pub enum EventGoal {}
pub enum AttemptSession {}
pub enum ReflectionSession {}
pub enum MessageSession {}
pub enum FollowUpEntry {}
pub enum FollowUpSynthesis {}
pub enum ReflectionEntry {}

/// Rows of `E` by (learner, id), for the relation `R`.
pub struct ById<E, R>(Reader, PhantomData<fn() -> (E, R)>);

impl<E, R> ById<E, R> {
    fn new(db: &Reader) -> Self {
        ById(db.clone(), PhantomData)
    }
}

impl<E, R> BatchLoad for ById<E, R>
where
    E: LearnerOwned,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
    E::Model: Clone + Send + Sync,
    R: 'static,
{
    type Key = Owned;
    type Value = E::Model;

    #[tracing::instrument(skip_all, fields(table = E::default().table_name(), keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> ApiResult<Map<Owned, E::Model>> {
        let id = E::PrimaryKey::iter().next().map(PrimaryKeyToColumn::into_column).ok_or(ApiError::Internal)?;
        let rows = E::find().filter(id.is_in(keys.iter().map(|k| k.1))).all(&self.0).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let key = (E::owner(&row), uuid_of::<E>(&row)?);
                Some((key, row))
            })
            .collect())
    }
}

/// The id of a row whose primary key is one UUID.
fn uuid_of<E>(row: &E::Model) -> Option<Uuid>
where
    E: EntityTrait,
    E::PrimaryKey: PrimaryKeyTrait<ValueType = Uuid>,
{
    use sea_orm::ModelTrait;
    let col = E::PrimaryKey::iter().next()?.into_column();
    match row.get(col) {
        sea_orm::Value::Uuid(Some(u)) => Some(u),
        _ => None,
    }
}

/// (learner, optional status filter).
pub type GoalsKey = (Uuid, Option<GoalStatus>);

/// All goals of a learner (optionally of one status), oldest first, for `Learner.goals`.
pub struct GoalsOfLearner(Reader);

impl BatchLoad for GoalsOfLearner {
    type Key = GoalsKey;
    type Value = Vec<goal::Model>;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[GoalsKey]) -> ApiResult<Map<GoalsKey, Vec<goal::Model>>> {
        let rows = goal::Entity::find()
            .filter(goal::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(goal::Column::CreatedAt)
            .order_by_asc(goal::Column::Id)
            .all(&self.0)
            .await?;
        let mut out: Map<GoalsKey, Vec<goal::Model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for g in rows {
            for status in [None, Some(g.status)] {
                if let Some(list) = out.get_mut(&(g.learner_id, status)) {
                    list.push(g.clone());
                }
            }
        }
        Ok(out)
    }
}

/// Practice totals and streak summaries by learner id, for `streak` and `progress`.
pub struct Progress(Reader);

impl BatchLoad for Progress {
    type Key = Uuid;
    type Value = learner_progress::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> ApiResult<Map<Uuid, learner_progress::Model>> {
        let rows = learner_progress::Entity::find()
            .filter(learner_progress::Column::LearnerId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|p| (p.learner_id, p)).collect())
    }
}

/// Learners by `externalId`, for `learner(externalId:)`: the first statement of a dashboard's
/// view, batched like every other so that the views in flight share it.
pub struct LearnerByExternalId(Reader);

impl BatchLoad for LearnerByExternalId {
    type Key = String;
    type Value = learner::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[String]) -> ApiResult<Map<String, learner::Model>> {
        let rows = learner::Entity::find()
            .filter(learner::Column::ExternalId.is_in(keys.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|l| (l.external_id.clone(), l)).collect())
    }
}

/// The learner with this `externalId`, whoever may see it (the caller checks).
pub async fn learner_by_external_id(ctx: &Context<'_>, external_id: &str) -> ApiResult<Option<learner::Model>> {
    batcher::<LearnerByExternalId>(ctx)?.load_one(external_id.to_owned()).await
}

/// (learner, first day, last day), both days included.
pub type DaysKey = (Uuid, NaiveDate, NaiveDate);

/// Practice days of learners over day ranges, for `progress.byDay`: one statement for the batch,
/// over the union of its ranges (learners in other time zones may be on another day), each key's
/// days picked from it.
pub struct PracticeDays(Reader);

impl BatchLoad for PracticeDays {
    type Key = DaysKey;
    type Value = Vec<practice_day::Model>;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[DaysKey]) -> ApiResult<Map<DaysKey, Vec<practice_day::Model>>> {
        let mut out: Map<DaysKey, Vec<practice_day::Model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        let (Some(from), Some(to)) = (keys.iter().map(|k| k.1).min(), keys.iter().map(|k| k.2).max()) else {
            return Ok(out);
        };
        let rows = practice_day::Entity::find()
            .filter(practice_day::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .filter(practice_day::Column::Day.between(from, to))
            .order_by_asc(practice_day::Column::Day)
            .all(&self.0)
            .await?;
        let mut of_learner: HashMap<Uuid, Vec<DaysKey>> = HashMap::new();
        for key in keys {
            of_learner.entry(key.0).or_default().push(*key);
        }
        for row in rows {
            for key in of_learner.get(&row.learner_id).into_iter().flatten() {
                if (key.1..=key.2).contains(&row.day)
                    && let Some(list) = out.get_mut(key)
                {
                    list.push(row.clone());
                }
            }
        }
        Ok(out)
    }
}

/// A learner's practice days from `from` to `to`, both included, oldest first.
pub async fn practice_days(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<practice_day::Model>> {
    Ok(batcher::<PracticeDays>(ctx)?.load_one((scope.id(), from, to)).await?.unwrap_or_default())
}

fn batcher<'a, L: BatchLoad>(ctx: &Context<'a>) -> ApiResult<&'a Batcher<L>> {
    Ok(ctx.data::<Batcher<L>>()?)
}

async fn owned<E, R>(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<E::Model>>
where
    ById<E, R>: BatchLoad<Key = Owned, Value = E::Model>,
    E: EntityTrait,
{
    let Some(id) = id else { return Ok(None) };
    batcher::<ById<E, R>>(ctx)?.load_one((scope.id(), id)).await
}

/// The goal, entry or session a row points at, for the relation `R` (see the tags above).
pub async fn owned_row<E, R>(ctx: &Context<'_>, scope: &LearnerScope, id: Option<Uuid>) -> ApiResult<Option<E::Model>>
where
    ById<E, R>: BatchLoad<Key = Owned, Value = E::Model>,
    E: EntityTrait,
{
    owned::<E, R>(ctx, scope, id).await
}

/// What a goal known only by id was reached through: each relation batches on its own, so a
/// request's statements do not depend on when sibling lists arrive.
#[derive(Clone, Copy, Debug)]
pub enum GoalOf {
    Attempt,
    Event,
}

/// What a session known only by id was reached through (see `GoalOf`).
#[derive(Clone, Copy, Debug)]
pub enum SessionOf {
    Attempt,
    Message,
    Reflection,
}

/// A goal of `scope`'s learner by id, batched with the others reached the same way.
pub async fn goal_row(ctx: &Context<'_>, scope: &LearnerScope, id: Uuid, of: GoalOf) -> ApiResult<Option<goal::Model>> {
    match of {
        GoalOf::Attempt => owned::<goal::Entity, AttemptGoal>(ctx, scope, Some(id)).await,
        GoalOf::Event => owned::<goal::Entity, EventGoal>(ctx, scope, Some(id)).await,
    }
}

/// A session of `scope`'s learner by id, batched with the others reached the same way.
pub async fn session_row(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    id: Uuid,
    of: SessionOf,
) -> ApiResult<Option<session::Model>> {
    match of {
        SessionOf::Attempt => owned::<session::Entity, AttemptSession>(ctx, scope, Some(id)).await,
        SessionOf::Message => owned::<session::Entity, MessageSession>(ctx, scope, Some(id)).await,
        SessionOf::Reflection => owned::<session::Entity, ReflectionSession>(ctx, scope, Some(id)).await,
    }
}

/// The goals of `scope`'s learner, oldest first.
pub async fn goals_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    status: Option<GoalStatus>,
) -> ApiResult<Vec<goal::Model>> {
    Ok(batcher::<GoalsOfLearner>(ctx)?.load_one((scope.id(), status)).await?.unwrap_or_default())
}

/// A learner's progress row (None before the first attempt).
pub async fn progress(ctx: &Context<'_>, scope: &LearnerScope) -> ApiResult<Option<learner_progress::Model>> {
    batcher::<Progress>(ctx)?.load_one(scope.id()).await
}

/// An entity listed whole under a learner, in a fixed order.
pub trait Listed: LearnerOwned {
    fn order(select: Select<Self>) -> Select<Self>;
}

macro_rules! listed {
    ($($module:ident: $($col:ident),+;)*) => {$(
        impl Listed for $module::Entity {
            fn order(select: Select<Self>) -> Select<Self> {
                select$(.order_by_asc($module::Column::$col))+
            }
        }
    )*};
}

listed! {
    conversation_state: SessionKey;
    preference: Category;
    interest: CreatedAt, Name;
    struggle: CreatedAt, Description;
    cognitive_metric: TaskName;
    objective_progress: CreatedAt, ObjectiveId;
    badge: EarnedAt, BadgeId;
    profiling_session: StartedAt, Id;
    profiling_outcome: LearnerId;
    portfolio_item: CreatedAt, Id;
}

/// Every row of `E` of a learner, in `E`'s order (detail lists, at most `MAX_PER_KIND` each).
pub struct OfLearner<E>(Reader, PhantomData<fn() -> E>);

impl<E> OfLearner<E> {
    fn new(db: &Reader) -> Self {
        OfLearner(db.clone(), PhantomData)
    }
}

impl<E> BatchLoad for OfLearner<E>
where
    E: Listed,
    E::Model: Clone + Send + Sync,
{
    type Key = Uuid;
    type Value = Vec<E::Model>;

    #[tracing::instrument(skip_all, fields(table = E::default().table_name(), keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> ApiResult<Map<Uuid, Vec<E::Model>>> {
        let rows = E::order(E::find().filter(E::learner_column().is_in(keys.iter().copied()))).all(&self.0).await?;
        let mut out: Map<Uuid, Vec<E::Model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(list) = out.get_mut(&E::owner(&row)) {
                list.push(row);
            }
        }
        Ok(out)
    }
}

/// Most branches one `union_all` statement holds: SQLite refuses a compound SELECT of more than
/// 500 terms (`SQLITE_MAX_COMPOUND_SELECT`).
const BRANCHES_PER_STATEMENT: usize = 400;

/// `branches` joined by `UNION ALL`, at most `BRANCHES_PER_STATEMENT` to a statement. A compound
/// SELECT's terms take no ORDER BY or LIMIT of their own on SQLite, so each branch is wrapped as a
/// subquery.
fn union_all(branches: impl IntoIterator<Item = SelectStatement>) -> Vec<SelectStatement> {
    let mut statements: Vec<SelectStatement> = Vec::new();
    let mut in_last = 0;
    for (i, branch) in branches.into_iter().enumerate() {
        let mut wrapped = Query::select();
        wrapped.column(Asterisk).from_subquery(branch, Alias::new(format!("branch_{i}")));
        match statements.last_mut() {
            Some(last) if in_last < BRANCHES_PER_STATEMENT => {
                last.union(UnionType::All, wrapped);
                in_last += 1;
            }
            _ => {
                statements.push(wrapped);
                in_last = 1;
            }
        }
    }
    statements
}

/// The rows of `E` for several parents, at most `n` per parent, in one statement: one branch per
/// parent (`parents` holds each one's condition), `SELECT … WHERE parent ORDER BY … LIMIT n`,
/// joined by `union_all` and ordered again as a whole. Each branch walks its parent's index and
/// stops after `n` rows on both engines; a `ROW_NUMBER()` window read every row of a parent
/// (SQLite sorted all 2,000 attempts of a heavy learner to keep 50). More than
/// `BRANCHES_PER_STATEMENT` parents take one statement per that many.
async fn top_per_parent<E: Decode>(
    db: &Reader,
    parents: Vec<Condition>,
    order: &[(E::Column, Order)],
    n: u64,
) -> ApiResult<Vec<E::Model>> {
    let branches = parents.into_iter().map(|condition| {
        let mut branch = Query::select();
        branch.columns(E::Column::iter().map(|c| (E::default(), c))).from(E::default()).cond_where(condition);
        for (col, dir) in order {
            branch.order_by((E::default(), *col), dir.clone());
        }
        branch.limit(n);
        branch
    });
    let mut rows = Vec::new();
    for union in union_all(branches) {
        let mut outer = Query::select();
        outer.column(Asterisk).from_subquery(union, Alias::new("ranked"));
        for (col, dir) in order {
            outer.order_by((Alias::new("ranked"), *col), dir.clone());
        }
        let stmt = db.get_database_backend().build(&outer);
        for row in sea_orm::ConnectionTrait::query_all_raw(db, stmt).await? {
            rows.push(E::decode(&row)?);
        }
    }
    Ok(rows)
}

/// Every row of `E` of `scope`'s learner, in `E`'s order.
pub async fn all_of<E>(ctx: &Context<'_>, scope: &LearnerScope) -> ApiResult<Vec<E::Model>>
where
    E: Listed,
    E::Model: Clone + Send + Sync,
{
    Ok(batcher::<OfLearner<E>>(ctx)?.load_one(scope.id()).await?.unwrap_or_default())
}

/// A learner-owned row listed under a parent of the same learner: a row of another table (a
/// journal entry's follow-ups) or a key the rows share (a diagnostic task's records, the attempts
/// naming an objective).
pub trait Child: LearnerOwned + Decode {
    type Parent: Eq + std::hash::Hash + Clone + Send + Sync + Into<sea_orm::Value> + 'static;
    fn parent_column() -> Self::Column;
    fn parent(row: &Self::Model) -> Option<Self::Parent>;
    fn order() -> Vec<(Self::Column, Order)>;
}

macro_rules! child {
    ($($module:ident: $parent:ty, $col:ident, |$row:ident| $get:expr, [$(($ocol:ident, $dir:ident)),+];)*) => {$(
        impl Child for $module::Entity {
            type Parent = $parent;
            fn parent_column() -> Self::Column {
                $module::Column::$col
            }
            fn parent($row: &Self::Model) -> Option<$parent> {
                $get
            }
            fn order() -> Vec<(Self::Column, Order)> {
                vec![$(($module::Column::$ocol, Order::$dir)),+]
            }
        }
    )*};
}

child! {
    journal_follow_up: Uuid, EntryId, |r| Some(r.entry_id), [(CreatedAt, Asc), (Id, Asc)];
    chat_message: Uuid, SessionId, |r| Some(r.session_id), [(Position, Asc)];
    mentor_selection: Uuid, SessionId, |r| Some(r.session_id), [(CreatedAt, Asc), (Id, Asc)];
    cognitive_metric_record: String, TaskName, |r| Some(r.task_name.clone()), [(RecordedAt, Desc), (Id, Desc)];
    attempt: String, ObjectiveId, |r| r.objective_id.clone(), [(OccurredAt, Desc), (Id, Desc)];
    profiling_response: Uuid, SessionId, |r| Some(r.session_id), [(AnsweredAt, Asc), (QuestionId, Asc)];
}

/// (learner, parent, how many).
pub type ChildKey<P> = (Uuid, P, u64);

/// The first `n` children of each parent, in the child's order: one statement per page.
pub struct ChildrenOf<E>(Reader, PhantomData<fn() -> E>);

impl<E> ChildrenOf<E> {
    fn new(db: &Reader) -> Self {
        ChildrenOf(db.clone(), PhantomData)
    }
}

impl<E> BatchLoad for ChildrenOf<E>
where
    E: Child,
    E::Model: Clone + Send + Sync,
{
    type Key = ChildKey<E::Parent>;
    type Value = Vec<E::Model>;

    #[tracing::instrument(skip_all, fields(table = E::default().table_name(), keys = keys.len()))]
    async fn load(&self, keys: &[Self::Key]) -> ApiResult<Map<Self::Key, Vec<E::Model>>> {
        let mut out: Map<Self::Key, Vec<E::Model>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let mut groups: HashMap<u64, Vec<&Self::Key>> = HashMap::new();
        for k in keys {
            groups.entry(k.2).or_default().push(k);
        }
        for (n, group) in groups {
            let parents = group
                .iter()
                .map(|k| Condition::all().add(E::learner_column().eq(k.0)).add(E::parent_column().eq(k.1.clone())))
                .collect();
            let rows = top_per_parent::<E>(&self.0, parents, &E::order(), n).await?;
            for row in rows {
                let Some(parent) = E::parent(&row) else { continue };
                if let Some(list) = out.get_mut(&(E::owner(&row), parent, n)) {
                    list.push(row);
                }
            }
        }
        Ok(out)
    }
}

/// The first `n` children of one parent of `scope`'s learner.
pub async fn children<E>(ctx: &Context<'_>, scope: &LearnerScope, parent: E::Parent, n: u64) -> ApiResult<Vec<E::Model>>
where
    E: Child,
    E::Model: Clone + Send + Sync,
{
    Ok(batcher::<ChildrenOf<E>>(ctx)?.load_one((scope.id(), parent, n)).await?.unwrap_or_default())
}

/// The follow-up that synthesized an entry, by (learner, synthesized entry id).
pub struct SynthesizedFrom(Reader);

impl BatchLoad for SynthesizedFrom {
    type Key = Owned;
    type Value = journal_follow_up::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> ApiResult<Map<Owned, journal_follow_up::Model>> {
        let rows = journal_follow_up::Entity::find()
            .filter(journal_follow_up::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .filter(journal_follow_up::Column::SynthesizedEntryId.is_in(keys.iter().map(|k| k.1)))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().filter_map(|f| Some(((f.learner_id, f.synthesized_entry_id?), f))).collect())
    }
}

/// `JournalEntry.synthesizedFrom`.
pub async fn synthesized_from(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    entry: Uuid,
) -> ApiResult<Option<journal_follow_up::Model>> {
    batcher::<SynthesizedFrom>(ctx)?.load_one((scope.id(), entry)).await
}

/// The reflection of a meditation session, by (learner, session id).
pub struct ReflectionOfSession(Reader);

impl BatchLoad for ReflectionOfSession {
    type Key = Owned;
    type Value = meditation_reflection::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Owned]) -> ApiResult<Map<Owned, meditation_reflection::Model>> {
        let rows = meditation_reflection::Entity::find()
            .filter(meditation_reflection::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .filter(meditation_reflection::Column::SessionId.is_in(keys.iter().map(|k| k.1)))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|r| ((r.learner_id, r.session_id), r)).collect())
    }
}

/// `Session.reflection`.
pub async fn reflection_of(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    session: Uuid,
) -> ApiResult<Option<meditation_reflection::Model>> {
    batcher::<ReflectionOfSession>(ctx)?.load_one((scope.id(), session)).await
}

/// A conversation state by (learner, session key).
pub struct StateByKey(Reader);

impl BatchLoad for StateByKey {
    type Key = (Uuid, String);
    type Value = conversation_state::Model;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[(Uuid, String)]) -> ApiResult<Map<(Uuid, String), conversation_state::Model>> {
        let rows = conversation_state::Entity::find()
            .filter(conversation_state::Column::LearnerId.is_in(keys.iter().map(|k| k.0)))
            .filter(conversation_state::Column::SessionKey.is_in(keys.iter().map(|k| k.1.clone())))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|s| ((s.learner_id, s.session_key.clone()), s)).collect())
    }
}

/// `Learner.conversationState(sessionKey)`.
pub async fn state_by_key(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    key: &str,
) -> ApiResult<Option<conversation_state::Model>> {
    batcher::<StateByKey>(ctx)?.load_one((scope.id(), key.to_owned())).await
}

/// A learner's wellbeing activity, counted in SQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityCounts {
    pub chat_sessions: i64,
    pub chat_messages: i64,
    pub journal_entries: i64,
    pub meditation_sessions: i64,
    pub meditation_minutes: i64,
    pub last_active_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Activity summaries for a page of learners in one aggregate statement (a UNION ALL of one
/// grouped count per table): the cost is the index ranges counted, never the rows loaded.
pub struct Activity(Reader);

impl BatchLoad for Activity {
    type Key = Uuid;
    type Value = ActivityCounts;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[Uuid]) -> ApiResult<Map<Uuid, ActivityCounts>> {
        use sea_orm::FromQueryResult;
        let ids: Vec<Uuid> = keys.to_vec();
        // (what, table, time column, summed column, extra condition)
        let part = |what: &str, table: &str, at: &str, sum: Option<&str>, kind: Option<&str>| -> SelectStatement {
            let mut q = Query::select();
            q.column(Alias::new("learner_id"))
                .expr_as(Expr::val(what.to_owned()), Alias::new("what"))
                .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
                .expr_as(
                    match sum {
                        Some(col) => Func::coalesce([Expr::col(Alias::new(col)).sum(), Expr::val(0i64)]).into(),
                        None => Expr::val(0i64),
                    },
                    Alias::new("total"),
                )
                .expr_as(Expr::col(Alias::new(at)).max(), Alias::new("last_at"))
                .from(Alias::new(table))
                .and_where(Expr::col(Alias::new("learner_id")).is_in(ids.clone()))
                .group_by_col(Alias::new("learner_id"));
            if let Some(kind) = kind {
                q.and_where(Expr::col(Alias::new("kind")).eq(kind));
            }
            q
        };
        let mut query = part("chat_sessions", "sessions", "started_at", None, Some("CHAT"));
        query
            .union(UnionType::All, part("meditation_sessions", "sessions", "started_at", None, Some("MEDITATION")))
            .union(UnionType::All, part("chat_messages", "chat_messages", "created_at", None, None))
            .union(UnionType::All, part("journal_entries", "journal_entries", "created_at", None, None))
            .union(
                UnionType::All,
                part("meditation_minutes", "meditation_reflections", "created_at", Some("duration_minutes"), None),
            );
        #[derive(FromQueryResult)]
        struct Row {
            learner_id: Uuid,
            what: String,
            n: i64,
            total: i64,
            last_at: Option<chrono::DateTime<chrono::Utc>>,
        }
        let backend = self.0.get_database_backend();
        let rows = Row::find_by_statement(backend.build(&query)).all(&self.0).await?;
        let mut out: Map<Uuid, ActivityCounts> = keys.iter().map(|k| (*k, ActivityCounts::default())).collect();
        for r in rows {
            let Some(c) = out.get_mut(&r.learner_id) else { continue };
            match r.what.as_str() {
                "chat_sessions" => c.chat_sessions = r.n,
                "meditation_sessions" => c.meditation_sessions = r.n,
                "chat_messages" => c.chat_messages = r.n,
                "journal_entries" => c.journal_entries = r.n,
                "meditation_minutes" => c.meditation_minutes = r.total,
                _ => {}
            }
            c.last_active_at = std::cmp::max(c.last_active_at, r.last_at);
        }
        Ok(out)
    }
}

/// `Learner.activitySummary`.
pub async fn activity(ctx: &Context<'_>, scope: &LearnerScope) -> ApiResult<ActivityCounts> {
    Ok(batcher::<Activity>(ctx)?.load_one(scope.id()).await?.unwrap_or_default())
}

/// A recommended recipe and its reasons.
pub type Recommended = (recipe::Model, Vec<String>);

/// Recipe recommendations for a page of learners: one statement for all their recommendations (a
/// `UNION ALL` of one ordered, limited part per learner), whatever the number of learners. The
/// profiling outcomes they come from are read before, through the batch `Learner.profiling` also
/// uses, so a view selecting both reads them once.
pub struct Recommendations {
    db: Reader,
    catalog: Arc<Catalog>,
}

impl BatchLoad for Recommendations {
    type Key = RecommendationsFor;
    type Value = Vec<Recommended>;

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn load(&self, keys: &[RecommendationsFor]) -> ApiResult<Map<RecommendationsFor, Vec<Recommended>>> {
        use sea_orm::FromQueryResult;
        let mut out: Map<RecommendationsFor, Vec<Recommended>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let map = self.catalog.skill_map();
        // What each branch of the union answers, by its `part` column.
        let mut parts: Vec<(&RecommendationsFor, Vec<rules::Gap>)> = Vec::new();
        let mut branches = Vec::new();
        for key in keys {
            let gaps = rules::gaps(map, &key.track_key, &key.weak_modules);
            if gaps.is_empty() {
                continue;
            }
            let codes: Vec<String> = gaps.iter().map(|g| g.skill.clone()).collect();
            let teaching = Query::select()
                .column(recipe_skill::Column::RecipeId)
                .from(recipe_skill::Entity)
                .and_where(Expr::col(recipe_skill::Column::SkillCode).is_in(codes))
                .to_owned();
            let mut part = Query::select();
            part.expr_as(Expr::val(i64::try_from(parts.len()).unwrap_or(i64::MAX)), Alias::new("part"))
                .columns(recipe::Column::iter().map(|c| (recipe::Entity, c)))
                .from(recipe::Entity)
                .and_where(Expr::col((recipe::Entity, recipe::Column::IsActive)).eq(true))
                .and_where(Expr::col((recipe::Entity, recipe::Column::Id)).in_subquery(teaching))
                .order_by((recipe::Entity, recipe::Column::UsageCount), Order::Desc)
                .order_by((recipe::Entity, recipe::Column::AvgRating), Order::Desc)
                .order_by((recipe::Entity, recipe::Column::Slug), Order::Asc)
                .limit(key.first);
            parts.push((key, gaps));
            branches.push(part);
        }
        for query in union_all(branches) {
            for row in self.db.query_all(&query).await? {
                let part: i64 = row.try_get("", "part")?;
                let recipe = recipe::Model::from_query_result(&row, "")?;
                let Some((key, gaps)) = usize::try_from(part).ok().and_then(|i| parts.get(i)) else { continue };
                let codes = crate::store::profiling::skill_codes(&recipe)?;
                let reasons = rules::reasons(gaps, &codes);
                if let Some(list) = out.get_mut(*key) {
                    list.push((recipe, reasons));
                }
            }
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| {
                b.0.usage_count
                    .cmp(&a.0.usage_count)
                    .then(b.0.avg_rating.total_cmp(&a.0.avg_rating))
                    .then_with(|| a.0.slug.cmp(&b.0.slug))
            });
        }
        Ok(out)
    }
}

/// What a learner's recommendations are worked out from: its profiling outcome, and how many
/// (learners with the same outcome share one part of the query).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecommendationsFor {
    first: u64,
    track_key: String,
    weak_modules: Vec<String>,
}

/// `Learner.recipeRecommendations(first)`: none before profiling is complete.
pub async fn recommendations(ctx: &Context<'_>, scope: &LearnerScope, n: u64) -> ApiResult<Vec<Recommended>> {
    let outcomes = all_of::<profiling_outcome::Entity>(ctx, scope).await?;
    let Some(o) = outcomes.first() else { return Ok(Vec::new()) };
    let key = RecommendationsFor {
        first: n,
        track_key: o.track_key.clone(),
        weak_modules: crate::store::profiling::outcome_weak(o)?.into_iter().map(|w| w.module).collect(),
    };
    Ok(batcher::<Recommendations>(ctx)?.load_one(key).await?.unwrap_or_default())
}

/// An entity read in keyset pages (newest first by `(at, id)`) under a learner, or under a parent
/// row of the learner (a session's attempts).
pub trait Paged: LearnerOwned + Decode {
    fn at_col() -> Self::Column;
    fn id_col() -> Self::Column;
    fn at_id(row: &Self::Model) -> (chrono::DateTime<chrono::Utc>, Uuid);
    /// The column of the parent a page may be under.
    fn parent_col() -> Option<Self::Column> {
        None
    }
    fn parent(_row: &Self::Model) -> Option<Uuid> {
        None
    }
}

macro_rules! paged {
    ($($module:ident: $at:ident / $at_field:ident;)*) => {$(
        impl Paged for $module::Entity {
            fn at_col() -> Self::Column {
                $module::Column::$at
            }
            fn id_col() -> Self::Column {
                $module::Column::Id
            }
            fn at_id(row: &Self::Model) -> (chrono::DateTime<chrono::Utc>, Uuid) {
                (row.$at_field, row.id)
            }
        }
    )*};
}

paged! {
    session: StartedAt / started_at;
    event: OccurredAt / occurred_at;
    journal_entry: CreatedAt / created_at;
    meditation_reflection: CreatedAt / created_at;
}

impl Paged for attempt::Entity {
    fn at_col() -> Self::Column {
        attempt::Column::OccurredAt
    }
    fn id_col() -> Self::Column {
        attempt::Column::Id
    }
    fn at_id(row: &Self::Model) -> (chrono::DateTime<chrono::Utc>, Uuid) {
        (row.occurred_at, row.id)
    }
    fn parent_col() -> Option<Self::Column> {
        Some(attempt::Column::SessionId)
    }
    fn parent(row: &Self::Model) -> Option<Uuid> {
        row.session_id
    }
}

/// A page's filter beyond its learner and parent: the condition, compared by its rendering, so
/// pages with the same filter (the same field with the same arguments under many learners) share
/// one statement.
#[derive(Clone, Debug)]
pub struct PageFilter {
    condition: Condition,
    fingerprint: String,
}

impl PageFilter {
    pub fn new(condition: Condition) -> Self {
        let fingerprint = format!("{condition:?}");
        PageFilter { condition, fingerprint }
    }
}

impl PartialEq for PageFilter {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for PageFilter {}

impl std::hash::Hash for PageFilter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.fingerprint.hash(state);
    }
}

/// One page: whose, under which parent, filtered how, how many rows (the page size + 1, to tell
/// whether another page follows) and after which `(at, id)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub learner: Uuid,
    pub parent: Option<Uuid>,
    pub filter: PageFilter,
    pub limit: u64,
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
}

/// Pages that can share a statement: under a parent or not, the filter, the size.
type Shape<'a> = (bool, &'a PageFilter, u64);

/// Keyset pages of `E` for many learners (or parents) in one statement per (filter, size):
/// `top_per_parent`, one `ORDER BY at DESC, id DESC LIMIT n` branch per learner (or parent), each
/// cut at its own cursor.
/// `R` tells apart pages under learners from pages under a parent row (a session's attempts):
/// they are selected in different places of a query, so they batch separately (see the module
/// comment).
pub struct PagesOf<E, R>(Reader, PhantomData<fn() -> (E, R)>);

/// Page tags: under a learner, under a parent row.
pub enum UnderLearner {}
pub enum UnderParent {}

impl<E, R> PagesOf<E, R> {
    fn new(db: &Reader) -> Self {
        PagesOf(db.clone(), PhantomData)
    }
}

impl<E, R> BatchLoad for PagesOf<E, R>
where
    E: Paged,
    E::Model: Clone + Send + Sync,
    R: 'static,
{
    type Key = PageKey;
    type Value = Vec<E::Model>;

    #[tracing::instrument(skip_all, fields(table = E::default().table_name(), keys = keys.len()))]
    async fn load(&self, keys: &[PageKey]) -> ApiResult<Map<PageKey, Vec<E::Model>>> {
        let mut out: Map<PageKey, Vec<E::Model>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        // Statements: one per (parent or not, filter, size); a learner (or parent) paged twice
        // with different cursors in one batch goes to a second statement.
        let mut groups: Vec<(Shape<'_>, Vec<&PageKey>)> = Vec::new();
        for k in keys {
            let shape = (k.parent.is_some(), &k.filter, k.limit);
            let slot = groups.iter_mut().find(|(s, members)| {
                *s == shape && !members.iter().any(|m| m.learner == k.learner && m.parent == k.parent)
            });
            match slot {
                Some((_, members)) => members.push(k),
                None => groups.push((shape, vec![k])),
            }
        }
        for ((by_parent, filter, limit), members) in groups {
            let parent_col = if by_parent { E::parent_col() } else { None };
            let mut parents = Vec::with_capacity(members.len());
            for k in &members {
                let mut one = Condition::all().add(filter.condition.clone()).add(E::learner_column().eq(k.learner));
                if let (Some(col), Some(p)) = (parent_col, k.parent) {
                    one = one.add(col.eq(p));
                }
                if let Some((at, id)) = k.after {
                    one = one.add(
                        Condition::any()
                            .add(E::at_col().lt(at))
                            .add(Condition::all().add(E::at_col().eq(at)).add(E::id_col().lt(id))),
                    );
                }
                parents.push(one);
            }
            let order = [(E::at_col(), Order::Desc), (E::id_col(), Order::Desc)];
            let rows = top_per_parent::<E>(&self.0, parents, &order, limit).await?;
            let by_owner: HashMap<(Uuid, Option<Uuid>), &PageKey> =
                members.iter().map(|k| ((k.learner, k.parent), *k)).collect();
            for row in rows {
                let parent = if by_parent { E::parent(&row) } else { None };
                if let Some(k) = by_owner.get(&(E::owner(&row), parent))
                    && let Some(list) = out.get_mut(*k)
                {
                    list.push(row);
                }
            }
        }
        Ok(out)
    }
}

/// The rows of one keyset page (batched with the same page of every other learner or parent).
/// Pages under a parent exist for entities with a `parent_col` (attempts).
pub async fn page_of<E>(ctx: &Context<'_>, key: PageKey) -> ApiResult<Vec<E::Model>>
where
    E: Paged,
    E::Model: Clone + Send + Sync,
{
    let rows = if key.parent.is_some() {
        batcher::<PagesOf<E, UnderParent>>(ctx)?.load_one(key).await?
    } else {
        batcher::<PagesOf<E, UnderLearner>>(ctx)?.load_one(key).await?
    };
    Ok(rows.unwrap_or_default())
}
