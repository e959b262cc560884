//! Gives every error a stable `extensions.code`. async-graphql raises parse, validation, limit and
//! request errors without one; they are classified here by the one table below, and anything left
//! uncoded is ours (INTERNAL, logged). The English messages matched are async-graphql's own, so
//! tests/api/errors.rs sends a request for each row: an upgrade that changes a message fails there.

use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

/// Messages of errors a client caused, by how they start, and their codes.
const CLIENT_ERRORS: &[(&str, &str)] = &[
    // Input coercion: a malformed DateTime, a wrong variable type, null for a non-null field.
    ("Failed to parse", "BAD_USER_INPUT"),
    ("Invalid value for argument", "BAD_USER_INPUT"),
    ("Expected input type", "BAD_USER_INPUT"),
    // The request names an operation the document does not have, or none in a document of several.
    ("Unknown operation named", "OPERATION_NOT_FOUND"),
    ("Operation name required in request", "OPERATION_NAME_REQUIRED"),
];

/// Validation messages of the query limits, and their codes.
const LIMITS: &[(&str, &str)] =
    &[("Query is nested too deep.", "QUERY_TOO_DEEP"), ("Query is too complex.", "QUERY_TOO_COMPLEX")];

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest::default())
    }
}

/// One request's view: whether it got as far as execution.
#[derive(Default)]
struct PerRequest {
    executed: AtomicBool,
}

/// Set on a response whose request failed before execution (it does not parse, does not validate,
/// its variables do not coerce, a limit refused it): such a response has no `data` at all, and
/// GraphQL-over-HTTP answers it with 400 under `application/graphql-response+json`. An internal
/// mark read by `http.rs`, never sent.
pub const REQUEST_ERROR_MARK: &str = "x-learngraph-request-error";

/// Whether `response` is a request error (see `REQUEST_ERROR_MARK`).
pub fn is_request_error(response: &Response) -> bool {
    response.http_headers.contains_key(REQUEST_ERROR_MARK)
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

fn has_code(err: &ServerError) -> bool {
    err.extensions.as_ref().is_some_and(|e| e.get("code").is_some())
}

/// async-graphql says "Variable n is not defined." both for an undeclared variable and for a
/// declared one the request did not provide; by the time a document has passed validation it can
/// only be the second.
fn missing_variable(message: &str) -> Option<&str> {
    message.strip_prefix("Variable ")?.strip_suffix(" is not defined.")
}

/// The parser's message is a multi-line drawing (` --> 1:25`, the line, a caret, `= expected …`);
/// clients show `message` to people, so it becomes one line, and `locations` keeps the position.
fn one_line_parse_error(message: &str, at: Option<(usize, usize)>) -> String {
    let expected = message.lines().map(str::trim).find_map(|l| l.strip_prefix("= "));
    let what = expected.or_else(|| message.lines().map(str::trim).find(|l| !l.is_empty())).unwrap_or("invalid syntax");
    match at {
        Some((line, column)) => format!("syntax error at line {line}, column {column}: {what}"),
        None => format!("syntax error: {what}"),
    }
}

/// The request names an operation the document does not have, or none in a document of several.
fn names_no_operation(message: &str) -> bool {
    CLIENT_ERRORS.iter().any(|(start, code)| code.starts_with("OPERATION_") && message.starts_with(start))
}

/// An input value that does not fit its type.
fn is_coercion(message: &str) -> bool {
    CLIENT_ERRORS.iter().any(|(start, code)| *code == "BAD_USER_INPUT" && message.starts_with(start))
}

/// The code and the message a client gets for an uncoded error.
fn classify(err: ServerError) -> ServerError {
    if has_code(&err) {
        return err;
    }
    if let Some(name) = missing_variable(&err.message) {
        let mut err = err.clone();
        err.message = format!("variable `${name}` is required by the operation but was not provided");
        return with_code(err, "BAD_USER_INPUT");
    }
    if let Some((_, code)) = CLIENT_ERRORS.iter().find(|(start, _)| err.message.starts_with(start)) {
        return with_code(err, code);
    }
    tracing::error!(message = %err.message, "uncoded error from the GraphQL executor");
    with_code(err, "INTERNAL")
}

/// A document that does not parse: one line, GRAPHQL_PARSE_FAILED. A limit refusing the document
/// before or after parsing keeps its own code and message.
pub fn parse_failed(mut e: ServerError) -> ServerError {
    if has_code(&e) {
        return e;
    }
    e.message = one_line_parse_error(&e.message, e.locations.first().map(|p| (p.line, p.column)));
    with_code(e, "GRAPHQL_PARSE_FAILED")
}

/// An error raised before execution: a limit's code, the client's input, an operation the
/// document lacks, or GRAPHQL_VALIDATION_FAILED.
fn invalid(e: ServerError) -> ServerError {
    // Raised while validating against the variables' values: a declared variable without a
    // value, or a value of the wrong type, is the client's input; so is an operation name that
    // selects nothing.
    if missing_variable(&e.message).is_some() || is_coercion(&e.message) || names_no_operation(&e.message) {
        return classify(e);
    }
    let code = LIMITS.iter().find(|(m, _)| e.message == *m).map_or("GRAPHQL_VALIDATION_FAILED", |(_, c)| c);
    with_code(e, code)
}

/// Whether a response of a schema without this extension failed before execution: no data, and
/// no error at a path (every error raised while resolving has the path of its field).
pub fn failed_before_execution(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Codes the errors of a response of a schema without this extension, as the extension would.
pub fn finish_without_extension(mut response: Response) -> Response {
    let executed = !failed_before_execution(&response);
    if !executed {
        response.errors = std::mem::take(&mut response.errors).into_iter().map(invalid).collect();
    }
    finish(response, executed)
}

/// Codes every error left uncoded, and marks a response that failed before execution.
pub fn finish(mut response: Response, executed: bool) -> Response {
    response.errors = std::mem::take(&mut response.errors).into_iter().map(classify).collect();
    if !executed && !response.errors.is_empty() {
        mark_request_error(&mut response);
    }
    response
}

/// Marks `response` as a request error (see `REQUEST_ERROR_MARK`).
pub fn mark_request_error(response: &mut Response) {
    response.http_headers.insert(REQUEST_ERROR_MARK, axum::http::HeaderValue::from_static("1"));
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let executed = self.executed.load(Ordering::Relaxed);
        finish(response, executed)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.executed.store(true, Ordering::Relaxed);
        next.run(ctx, operation_name).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(parse_failed)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| errors.into_iter().map(invalid).collect())
    }
}
