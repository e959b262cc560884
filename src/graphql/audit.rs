//! Data protection over GraphQL: the access log (recorded around each staff or service request,
//! read through `accessLog` and `Learner.accessLog`), erasure records, and `exportLearner`.
//!
//! How accesses are recorded: for a staff or service viewer, each top-level field runs inside a
//! task-local naming that field (set by the root types `AuditedRoot` over HTTP, and by the
//! `AccessLogging` extension for WebSocket operations); every `LearnerScope` made while it runs
//! (the one scope gate, `access.rs`) notes its learner there. When the operation has run, the
//! request's learners are written in one statement, one row per learner with the top-level fields
//! that touched it. If that write fails, a query's data is withheld (nothing read goes unrecorded)
//! and a mutation's result carries an error beside its (committed) data.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo};
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, ID, Json, Object, ObjectType, OutputType, Positioned, Response, ServerError,
    ServerResult, Value,
};
use chrono::{DateTime, Utc};
use entity::access_log;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, Condition};
use std::borrow::Cow;

use super::AppState;
use super::access::{self, LearnerOwned, LearnerScope, parts};
use super::loaders::Paged;
use super::page;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::audit::{Access, Actor};

tokio::task_local! {
    /// The top-level field being resolved for an audited request, and where its learners go.
    static FIELD: Touch;
}

#[derive(Clone)]
struct Touch {
    log: Arc<Mutex<Touched>>,
    field: Arc<str>,
    write: bool,
}

/// The learners one request touched.
#[derive(Default)]
struct Touched {
    learners: BTreeMap<Uuid, (bool, BTreeSet<Arc<str>>)>,
    erased: HashSet<Uuid>,
}

/// Notes that the current request reached `learner` (called by the scope gate). Outside an
/// audited request (a learner token, open mode, the CLI) it does nothing.
pub fn note(learner: Uuid) {
    let _ = FIELD.try_with(|t| {
        if let Ok(mut touched) = t.log.lock()
            && !touched.erased.contains(&learner)
        {
            let entry = touched.learners.entry(learner).or_default();
            entry.0 |= t.write;
            entry.1.insert(t.field.clone());
        }
    });
}

/// Notes that the current request erased `learner`: its accesses are not recorded (its erasure
/// record is).
pub fn erased(learner: Uuid) {
    let _ = FIELD.try_with(|t| {
        if let Ok(mut touched) = t.log.lock() {
            touched.learners.remove(&learner);
            touched.erased.insert(learner);
        }
    });
}

/// Records the accesses of staff and service requests; see the module header.
pub struct AccessLogging;

impl ExtensionFactory for AccessLogging {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Recorder { log: AccessLog::default() })
    }
}

struct Recorder {
    log: AccessLog,
}

fn audited(ctx: &ExtensionContext<'_>) -> bool {
    ctx.data_opt::<Viewer>().is_some_and(Actor::audited)
}

#[async_graphql::async_trait::async_trait]
impl Extension for Recorder {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() || info.is_for_introspection || !audited(ctx) {
            return next.run(ctx, info).await;
        }
        let touch = self.log.touch(info.name, info.parent_type == "Mutation");
        FIELD.scope(touch, next.run(ctx, info)).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        self.log.record(ctx.data_opt::<AppState>(), ctx.data_opt::<Viewer>(), operation_name, response).await
    }
}

/// One audited request's accesses: filled while its top-level fields run (by the root types below
/// over HTTP, put in the request's data by `AppSchema::execute`; by `AccessLogging` over
/// WebSocket), written once the operation has run.
#[derive(Clone, Default)]
pub struct AccessLog(Arc<Mutex<Touched>>);

impl AccessLog {
    fn touch(&self, field: &str, write: bool) -> Touch {
        Touch { log: self.0.clone(), field: field.into(), write }
    }

    /// Writes the accesses held (one row per learner). If that fails, a query's data is withheld
    /// and a mutation's response carries an error.
    pub async fn record(
        &self,
        state: Option<&AppState>,
        viewer: Option<&Viewer>,
        operation_name: Option<&str>,
        mut response: Response,
    ) -> Response {
        let (accesses, any_write) = match self.0.lock() {
            Ok(mut touched) => {
                let accesses: Vec<Access> = std::mem::take(&mut touched.learners)
                    .into_iter()
                    .map(|(learner_id, (write, fields))| Access {
                        learner_id,
                        write,
                        fields: fields.iter().map(|f| f.to_string()).collect(),
                    })
                    .collect();
                let any_write = accesses.iter().any(|a| a.write);
                (accesses, any_write)
            }
            Err(_) => return Response::from_errors(vec![unrecorded()]),
        };
        if accesses.is_empty() {
            return response;
        }
        let (Some(state), Some(viewer)) = (state, viewer) else {
            return Response::from_errors(vec![unrecorded()]);
        };
        let recorded = async {
            let txn = state.begin_write().await?;
            store::audit::record(&*txn, &Actor::of(viewer), operation_name, &accesses, state.clock.now()).await?;
            txn.commit().await?;
            ApiResult::Ok(())
        };
        if recorded.await.is_err() {
            tracing::error!(learners = accesses.len(), "the access log could not be written");
            if any_write {
                response.errors.push(unrecorded());
            } else {
                return Response::from_errors(vec![unrecorded()]);
            }
        }
        response
    }
}

/// A root type (`Query`, or `Mutation` when `WRITE`) whose top-level fields each run inside the
/// task-local that the scope gate notes learners in, when the request carries an `AccessLog`.
/// Everything else is the wrapped type's: its name, its fields, its schema.
pub struct AuditedRoot<T, const WRITE: bool>(pub T);

impl<T: ContainerType, const WRITE: bool> OutputType for AuditedRoot<T, WRITE> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        async_graphql::resolver_utils::resolve_container(ctx, self).await
    }
}

impl<T: ContainerType, const WRITE: bool> ContainerType for AuditedRoot<T, WRITE> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        // `__schema` and `__type` are answered before a root type is asked, so every field here is
        // one of ours.
        match ctx.data_opt::<AccessLog>() {
            Some(log) => FIELD.scope(log.touch(&ctx.item.node.name.node, WRITE), self.0.resolve_field(ctx)).await,
            None => self.0.resolve_field(ctx).await,
        }
    }
}

impl<T: ContainerType, const WRITE: bool> ObjectType for AuditedRoot<T, WRITE> {}

impl<T: Default, const WRITE: bool> Default for AuditedRoot<T, WRITE> {
    fn default() -> Self {
        AuditedRoot(T::default())
    }
}

fn unrecorded() -> ServerError {
    let err: async_graphql::Error = ApiError::Internal.into();
    let mut e = err.into_server_error(Default::default());
    e.message = "internal error: the access could not be recorded".into();
    e
}

impl LearnerOwned for access_log::Entity {
    const NAME: &'static str = "access log entry";
    fn learner_column() -> Self::Column {
        access_log::Column::LearnerId
    }
    fn owner(row: &Self::Model) -> Uuid {
        // Erasure records have no learner and are never read under one.
        row.learner_id.unwrap_or_default()
    }
}

impl Paged for access_log::Entity {
    fn at_col() -> Self::Column {
        access_log::Column::At
    }
    fn id_col() -> Self::Column {
        access_log::Column::Id
    }
    fn at_id(row: &Self::Model) -> (DateTime<Utc>, Uuid) {
        (row.at, row.id)
    }
}

/// One access to a learner's data by a staff or service token (one per request and learner), or
/// the record of an erasure.
pub struct AccessLogEntry(access_log::Model);

/// What an access did.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::access_log::AccessAction")]
pub enum AccessLogAction {
    /// Read the learner's data.
    Read,
    /// Changed it (a mutation).
    Write,
    /// Erased the learner.
    Erase,
}

/// One access to a learner's data by a staff or service token (one per request and learner), or
/// the record of an erasure.
#[Object]
impl AccessLogEntry {
    /// When the request ran.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who: the token's `sub` (or `retention` for the retention sweep).
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The actor's role: `staff`, `service`, `system` (and on erasure records also `learner` or
    /// `open`).
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// Whether the request read, wrote or erased.
    async fn action(&self) -> AccessLogAction {
        self.0.action.into()
    }
    /// The GraphQL operation name the client gave, if any.
    async fn operation_name(&self) -> Option<&str> {
        self.0.operation_name.as_deref()
    }
    /// The top-level fields of the request that touched this learner, sorted.
    async fn fields(&self) -> Vec<String> {
        serde_json::from_value(self.0.fields.clone()).unwrap_or_default()
    }
}

/// `Learner.accessLog`.
pub struct LearnerAudit(pub LearnerScope);

#[Object]
impl LearnerAudit {
    /// Who read or changed this learner's data with a staff or service token, newest first. The
    /// learner may read its own log; its own reads are not logged.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only accesses at or after this time.")] since: Option<DateTime<Utc>>,
    ) -> ApiResult<page::Connection<AccessLogEntry>> {
        log_page(ctx, &self.0, first, after, since).await
    }
}

async fn log_page(
    ctx: &Context<'_>,
    scope: &LearnerScope,
    first: Option<i32>,
    after: Option<String>,
    since: Option<DateTime<Utc>>,
) -> ApiResult<page::Connection<AccessLogEntry>> {
    let mut filter = Condition::all();
    if let Some(since) = since {
        filter = filter.add(access_log::Column::At.gte(since));
    }
    page::batched::<access_log::Entity, _>(ctx, scope, None, filter, first, after, AccessLogEntry).await
}

/// Reads for data protection.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// A learner's access log, newest first (staff only; a learner reads its own through
    /// `Learner.accessLog`).
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner.")] learner_id: ID,
        #[graphql(desc = "Page size, 1..=100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only accesses at or after this time.")] since: Option<DateTime<Utc>>,
    ) -> ApiResult<page::Connection<AccessLogEntry>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_staff()?;
        let scope = access::learner_by_gid(&state.reader, viewer, "learnerId", &learner_id).await?;
        log_page(ctx, &scope, first, after, since).await
    }

    /// The records of erasures of the learner with this externalId (found by its hash), newest
    /// first; empty if it was never erased. Staff only.
    async fn erasure_records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The erased learner's externalId.")] external_id: String,
    ) -> ApiResult<Vec<AccessLogEntry>> {
        let (state, viewer) = parts(ctx)?;
        viewer.require_staff()?;
        Ok(store::audit::erasures(&state.reader, &external_id).await?.into_iter().map(AccessLogEntry).collect())
    }

    /// Everything stored about a learner, as one JSON document (the format of `learngraph export`;
    /// see the README's "Data protection"). Staff, service, or the learner itself. Documents
    /// larger than `LEARNGRAPH_MAX_EXPORT_BYTES` are refused with TOO_LARGE: use the CLI, which
    /// streams.
    async fn export_learner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The learner.")] id: ID,
    ) -> ApiResult<Json<serde_json::Value>> {
        let (state, viewer) = parts(ctx)?;
        let scope = access::learner_by_gid(&state.reader, viewer, "id", &id).await?;
        let mut out = store::export::Bounded::new(state.config.max_export_bytes);
        store::export::write(&state.db, scope.id(), state.clock.now(), &mut out).await?;
        let doc = serde_json::from_slice(&out.buf).map_err(|e| {
            tracing::error!(error = %e, "an export does not parse back");
            ApiError::Internal
        })?;
        Ok(Json(doc))
    }
}
