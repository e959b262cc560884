//! Schema assembly: one module per domain, merged here.

pub mod access;
pub mod batch;
pub mod companion;
pub mod details;
pub mod details_write;
pub mod event;
pub mod goal;
pub mod ids;
pub mod journal;
pub mod learner;
pub mod loaders;
pub mod meditation;
pub mod node;
pub mod page;
pub mod practice;
pub mod scalars;
pub mod session;

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    Context, EmptySubscription, MergedObject, Response, Schema, ServerError, ServerResult, ValidationResult, Variables,
};
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
    /// SQL statements run through `db` (for the statement-count tests and the benchmark).
    pub statements: crate::db::StatementCounter,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config, clock: Clock) -> Self {
        let auth = Auth::new(config.jwt_secret.as_deref());
        AppState {
            db,
            config: Arc::new(config),
            clock,
            auth,
            write_gate: Arc::new(tokio::sync::Semaphore::new(1)),
            statements: Default::default(),
        }
    }

    /// A write transaction (IMMEDIATE on SQLite, holding this process's turn). Resolvers open
    /// writes through `access`, which checks scope in the same call.
    pub(crate) async fn begin_write(&self) -> Result<crate::db::WriteTxn, sea_orm::DbErr> {
        crate::db::begin_write(&self.db, &self.write_gate).await
    }
}

#[derive(MergedObject, Default)]
pub struct Query(learner::LearnerQuery, node::NodeQuery);

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
);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(state: AppState) -> AppSchema {
    let config = state.config.clone();
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription);
    let mut builder = loaders::register(builder, &state.db)
        .data(state.clone())
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .extension(ErrorCodes);
    // With auth on, "Did you mean …" would describe the schema to anyone probing it.
    if !state.auth.is_open() {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL clients generate code from (also `learngraph schema` and `tests/schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish().sdl()
}

pub fn state<'a>(ctx: &Context<'a>) -> ApiResult<&'a AppState> {
    Ok(ctx.data::<AppState>()?)
}

/// The viewer set by the HTTP layer; a request without one (a bug) sees nothing.
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_opt::<Viewer>().unwrap_or(&Viewer::Anonymous)
}

/// Gives every error a stable `extensions.code`: parse and validation failures and query limits
/// are raised by async-graphql without one.
struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|err| {
                // Input coercion failures (a malformed DateTime, a wrong variable type) are the
                // client's; anything else without a code is ours.
                let code = if err.message.starts_with("Failed to parse")
                    || err.message.starts_with("Invalid value for argument")
                {
                    "BAD_USER_INPUT"
                } else {
                    "INTERNAL"
                };
                with_code(err, code)
            })
            .collect();
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = match e.message.as_str() {
                        "Query is nested too deep." => "QUERY_TOO_DEEP",
                        "Query is too complex." => "QUERY_TOO_COMPLEX",
                        _ => "GRAPHQL_VALIDATION_FAILED",
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}
