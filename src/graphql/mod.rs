//! Schema assembly: one module per domain, merged here.

pub mod access;
pub mod audit;
pub mod batch;
pub mod companion;
pub mod details;
pub mod details_write;
pub mod documents;
pub mod errors;
pub mod event;
pub mod fast;
pub mod goal;
pub mod ids;
pub mod journal;
pub mod learner;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod meditation;
pub mod node;
pub mod page;
pub mod practice;
pub mod profiling;
pub mod rows;
pub mod scalars;
pub mod selection;
pub mod session;

use std::sync::Arc;

use async_graphql::parser::types::DocumentOperations;
use async_graphql::{Context, MergedObject, ObjectType, Schema, SchemaBuilder, ValidationMode};
use sea_orm::DatabaseConnection;

use crate::auth::{Auth, Viewer};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiResult;

/// What every resolver can reach: the database, the settings, the clock.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub auth: Auth,
    /// Turns to write on SQLite (one at a time); see `db::begin_write`.
    pub write_gate: Arc<tokio::sync::Semaphore>,
    /// Reads on connections kept checked out between statements (`reader.rs`): what the queries'
    /// resolvers and the loaders read through.
    pub reader: crate::reader::Reader,
    /// SQL statements run through `db` and `reader` (for the statement-count tests and the
    /// benchmark).
    pub statements: crate::db::StatementCounter,
    /// This replica's cache of journal vectors for similarity search.
    pub vectors: Arc<crate::store::vectors::VectorCache>,
    /// The profiling question banks and skill map.
    pub profiling: Arc<crate::store::profiling::Catalog>,
    /// This replica's fan-out of committed activities to live subscribers.
    pub live: crate::live::Live,
    /// The trusted documents manifest, when configured (`trusted.rs`).
    pub trusted: Option<Arc<crate::trusted::TrustedDocuments>>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        statements: crate::db::StatementCounter,
        config: Config,
        clock: Clock,
        profiling: crate::store::profiling::Catalog,
    ) -> Self {
        let auth = Auth::new(config.jwt_secret.as_ref().map(crate::config::Secret::expose));
        let vectors =
            Arc::new(crate::store::vectors::VectorCache::new(config.embedding_cache_mb.saturating_mul(1 << 20)));
        let live =
            crate::live::Live::new(db.clone(), &config.database_url, config.live_buffer, config.max_ws_connections);
        AppState {
            live,
            reader: crate::reader::Reader::new(&db, statements.clone()),
            db,
            config: Arc::new(config),
            clock,
            auth,
            write_gate: Arc::new(tokio::sync::Semaphore::new(1)),
            statements,
            vectors,
            profiling: Arc::new(profiling),
            trusted: None,
        }
    }

    /// A write transaction (IMMEDIATE on SQLite, holding this process's turn). Resolvers open
    /// writes through `access`, which checks scope in the same call.
    pub(crate) async fn begin_write(&self) -> Result<crate::db::WriteTxn, sea_orm::DbErr> {
        Ok(crate::db::begin_write(&self.db, &self.write_gate).await?.with_live(self.live.clone(), self.clock.now()))
    }
}

/// Reads: a learner and everything stored about it, lists of learners (staff), any stored thing by
/// its global id.
#[derive(MergedObject, Default)]
pub struct Query(learner::LearnerQuery, node::NodeQuery, profiling::ProfilingQuery, audit::AuditQuery);

/// Writes. Each mutation takes one `input` object, runs in one transaction, and returns a payload
/// with what changed; bad input changes nothing.
#[derive(MergedObject, Default)]
pub struct Mutation(
    learner::LearnerMutation,
    goal::GoalMutation,
    event::EventMutation,
    session::SessionMutation,
    practice::PracticeMutation,
    details_write::DetailsMutation,
    journal::JournalMutation,
    companion::CompanionMutation,
    meditation::MeditationMutation,
    profiling::ProfilingMutation,
);

/// The schema as async-graphql builds it.
pub type Executable = Schema<Query, Mutation, live::Subscription>;

/// The schema with each top-level field run inside the access log's scope (`audit::AuditedRoot`).
pub type Audited = Schema<audit::AuditedRoot<Query, false>, audit::AuditedRoot<Mutation, true>, live::Subscription>;

/// The schema, built three times. async-graphql takes a slower path through every field and every
/// list item as soon as a schema has any extension (a boxed future per extension, a registry
/// lookup per field); our extensions hook parsing, validation and the response, which `execute`
/// does around schemas without them. Staff and service requests, whose accesses are recorded, run
/// on the one whose root types note each top-level field (`audit::AuditedRoot`); every other
/// request on the plain one. WebSocket operations run on the one with every extension.
///
/// The plain and audited schemas come twice: validating every rule, and validating only what
/// depends on a request's variables (`ValidationMode::Fast`: the depth and complexity limits). A
/// document the cache holds runs on the second once it has passed the first and its variables fit
/// their declared types (`documents::variables_fit`): the rules that read only the document cost
/// about a tenth of a FullLearnerView's instructions, for an answer that cannot change. The second
/// has one extension, `documents::Reuse`, which answers even that validation from an earlier
/// request with the same document and the same values of the variables that can change it; it
/// hooks no field, and the view's objects resolve on the fast path (`fast`), which does not look
/// at extensions, so the executor's slower path with extensions is left to the few fields outside
/// it.
#[derive(Clone)]
pub struct AppSchema {
    plain: Executable,
    audited: Audited,
    plain_checked: Executable,
    audited_checked: Audited,
    inputs: Arc<async_graphql::registry::Registry>,
    full: Executable,
    state: AppState,
    limits: limits::QueryLimits,
    documents: Arc<documents::Documents>,
}

impl AppSchema {
    /// The schema with every extension (WebSocket operations).
    pub fn full(&self) -> &Executable {
        &self.full
    }

    /// Runs one request as `execute` does.
    pub async fn execute(&self, request: impl Into<async_graphql::Request>) -> async_graphql::Response {
        let mut request = request.into();
        let Some(viewer) = audited(&request) else {
            let schema = |checked| if checked { &self.plain_checked } else { &self.plain };
            return self.run(request, |r, checked| schema(checked).execute(r)).await.0;
        };
        let viewer = viewer.clone();
        let log = audit::AccessLog::default();
        request = request.data(log.clone());
        let schema = |checked| if checked { &self.audited_checked } else { &self.audited };
        let (response, operation_name) = self.run(request, |r, checked| schema(checked).execute(r)).await;
        log.record(Some(&self.state), Some(&viewer), operation_name.as_deref(), response).await
    }

    /// What the extensions `ErrorCodes`, `QueryLimits` and `SelectedOperation` do, around the
    /// schema without them: the token limit before parsing, the selected operation and its
    /// fragments, the alias and directive limits on them, the codes of errors, and the response in
    /// query order. `execute` runs the request on the schema that validates in full, or, when its
    /// second argument is true, on the one that skips the rules the document has already passed.
    async fn run<'a, F>(
        &'a self,
        mut request: async_graphql::Request,
        execute: impl FnOnce(async_graphql::Request, bool) -> F,
    ) -> (async_graphql::Response, Option<String>)
    where
        F: Future<Output = async_graphql::Response> + 'a,
    {
        let refused = |e: async_graphql::ServerError| {
            let mut response = async_graphql::Response::from_errors(vec![errors::parse_failed(e)]);
            errors::mark_request_error(&mut response);
            (response, None)
        };
        let operation_name = request.operation_name.clone();
        let document = match self.documents.get(&request.query, operation_name.as_deref()) {
            Some(document) => document,
            None => {
                if let Err(e) = self.limits.check_source(&request.query) {
                    return refused(e);
                }
                let mut document = match async_graphql::parser::parse_query(&request.query) {
                    Ok(document) => document,
                    Err(e) => return refused(e.into()),
                };
                selection::select(&mut document, operation_name.as_deref());
                if let Err(e) = self.limits.check_document(&document) {
                    return refused(e);
                }
                let document = Arc::new(documents::Document::new(document));
                self.documents.put(&request.query, operation_name.as_deref(), document.clone());
                document
            }
        };
        let checked =
            document.validated() && documents::variables_fit(&self.inputs, &document.document, &request.variables);
        if checked && let Some(known) = documents::Known::new(document.clone(), &request.variables) {
            request = request.data(known);
        }
        request.set_parsed_query(document.document.clone());
        let mut response = errors::finish_without_extension(execute(request, checked).await);
        if !errors::is_request_error(&response) {
            document.mark_validated();
            let order = document.order(operation_name.as_deref());
            selection::finish_in(&mut response.data, order, &document.document, operation_name.as_deref());
        }
        // The operation that ran: the one named, or the only one of the document.
        let ran = operation_name.or_else(|| match &document.document.operations {
            DocumentOperations::Multiple(ops) if ops.len() == 1 => ops.keys().next().map(|n| n.to_string()),
            _ => None,
        });
        (response, ran)
    }

    async fn execute_batch(&self, request: async_graphql::BatchRequest) -> async_graphql::BatchResponse {
        match request {
            async_graphql::BatchRequest::Single(request) => self.execute(request).await.into(),
            async_graphql::BatchRequest::Batch(requests) => async_graphql::BatchResponse::Batch(
                futures_util::future::join_all(requests.into_iter().map(|r| self.execute(r))).await,
            ),
        }
    }
}

/// The viewer of `request` if it is a staff or service viewer, whose accesses are recorded
/// (`audit.rs`).
fn audited(request: &async_graphql::Request) -> Option<&Viewer> {
    request
        .data
        .get(&std::any::TypeId::of::<Viewer>())
        .and_then(|v| v.downcast_ref::<Viewer>())
        .filter(|v| crate::store::audit::Actor::audited(v))
}

pub fn build_schema(state: AppState) -> AppSchema {
    let config = state.config.clone();
    let limits = limits::QueryLimits {
        max_tokens: config.max_tokens,
        max_aliases: config.max_aliases,
        max_directives: config.max_directives,
    };
    fn configure<Q: ObjectType + 'static, M: ObjectType + 'static>(
        builder: SchemaBuilder<Q, M, live::Subscription>,
        state: &AppState,
    ) -> SchemaBuilder<Q, M, live::Subscription> {
        let mut builder = loaders::register(builder, &state.reader, &state.profiling)
            .data(state.clone())
            .limit_depth(state.config.max_depth)
            .limit_complexity(state.config.max_complexity);
        // With auth on, "Did you mean …" would describe the schema to anyone probing it.
        if !state.auth.is_open() {
            builder = builder.disable_suggestions();
        }
        builder
    }
    // The schemas without extensions, validating in `mode`.
    let plain = |mode| {
        let builder = configure(Schema::build(Query::default(), Mutation::default(), live::Subscription), &state)
            .data(fast::Unhooked)
            .validation_mode(mode);
        match mode {
            ValidationMode::Fast => builder.extension(documents::Reuse),
            ValidationMode::Strict => builder,
        }
        .finish()
    };
    let audited = |mode| {
        let builder = configure(Schema::build(Default::default(), Default::default(), live::Subscription), &state)
            .data(fast::Unhooked)
            .validation_mode(mode);
        match mode {
            ValidationMode::Fast => builder.extension(documents::Reuse),
            ValidationMode::Strict => builder,
        }
        .finish()
    };
    let inputs = Arc::new(documents::input_types::<Query, Mutation, live::Subscription>());
    let full = configure(Schema::build(Query::default(), Mutation::default(), live::Subscription), &state)
        .extension(errors::ErrorCodes)
        .extension(limits)
        .extension(selection::SelectedOperation)
        .extension(audit::AccessLogging)
        .finish();
    AppSchema {
        plain: plain(ValidationMode::Strict),
        audited: audited(ValidationMode::Strict),
        plain_checked: plain(ValidationMode::Fast),
        audited_checked: audited(ValidationMode::Fast),
        inputs,
        full,
        state,
        limits,
        documents: Default::default(),
    }
}

/// Runs one request. Outside tokio's cooperative budget: the loaders batch every key registered in
/// one pass over a list's items (`batch.rs`), and a budget running out in the middle of that pass
/// would make some items return early and register their keys a pass later, in a second batch.
/// A request is bounded by the depth and complexity limits, and still yields at every database
/// wait.
///
/// A panic while resolving (a bug of ours) answers that request with INTERNAL and is logged with
/// its cause; the process and other requests go on.
pub async fn execute(
    schema: &AppSchema,
    request: impl Into<async_graphql::BatchRequest>,
) -> async_graphql::BatchResponse {
    let request = request.into();
    let requests = match &request {
        async_graphql::BatchRequest::Single(_) => None,
        async_graphql::BatchRequest::Batch(r) => Some(r.len()),
    };
    catch_panic(tokio::task::unconstrained(schema.execute_batch(request)), requests).await
}

/// Runs `work`; if it panics, every request of it gets INTERNAL (`requests`: the batch's size, or
/// `None` for a single request).
async fn catch_panic(
    work: impl Future<Output = async_graphql::BatchResponse>,
    requests: Option<usize>,
) -> async_graphql::BatchResponse {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let cause = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            tracing::error!(cause = %cause, "a resolver panicked; the request gets INTERNAL");
            let internal = || {
                async_graphql::Response::from_errors(vec![
                    async_graphql::Error::from(crate::error::ApiError::Internal)
                        .into_server_error(async_graphql::Pos::default()),
                ])
            };
            match requests {
                None => async_graphql::BatchResponse::Single(internal()),
                Some(n) => async_graphql::BatchResponse::Batch((0..n).map(|_| internal()).collect()),
            }
        }
    }
}

/// The SDL clients generate code from (also `learngraph schema` and `tests/schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), live::Subscription).finish().sdl()
}

pub fn state<'a>(ctx: &Context<'a>) -> ApiResult<&'a AppState> {
    Ok(ctx.data::<AppState>()?)
}

/// The viewer set by the HTTP layer; a request without one (a bug) sees nothing.
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_opt::<Viewer>().unwrap_or(&Viewer::Anonymous)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panic_while_executing_answers_internal_and_spares_the_process() {
        let panicking = async { panic!("a bug") };
        let single = super::catch_panic(panicking, None).await;
        let json = serde_json::to_value(&single).expect("json");
        assert_eq!(json["errors"][0]["extensions"]["code"], "INTERNAL", "{json}");
        assert_eq!(json["errors"][0]["message"], "internal error");
        let batch = super::catch_panic(async { panic!("{}", String::from("owned")) }, Some(3)).await;
        let json = serde_json::to_value(&batch).expect("json");
        assert_eq!(json.as_array().map(Vec::len), Some(3), "{json}");
        assert!(json.as_array().into_iter().flatten().all(|r| r["errors"][0]["extensions"]["code"] == "INTERNAL"));
        // Work that does not panic passes through untouched.
        let fine =
            super::catch_panic(async { async_graphql::Response::new(async_graphql::Value::Null).into() }, None).await;
        assert!(serde_json::to_value(&fine).expect("json").get("errors").is_none());
    }
}
