//! The axum router: POST /graphql, GET /graphql (GraphiQL, a query by GET, or a WebSocket for
//! subscriptions), embedded GraphiQL assets, /healthz and /readyz.

use std::collections::HashMap;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Variables};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::auth::Viewer;
use crate::error::ApiError;
use crate::graphql::{AppSchema, AppState};

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
}

pub fn router(app: AppState) -> Router {
    let schema = crate::graphql::build_schema(app.clone());
    let max_body = app.config.max_body_bytes;
    let cors = cors(&app.config.cors_origins);
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/assets/{file}", get(asset))
        .route("/graphql/schema.graphql", get(schema_sdl))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(HttpState { app, schema })
}

/// Cross-origin access for the configured origins: GET and POST with `Content-Type` and
/// `Authorization`, preflights answered and cached for an hour. Credentials (cookies) are never
/// allowed: the API authenticates with bearer tokens. An origin that is not listed gets no CORS
/// headers, so the browser refuses it.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<&str> = origins.iter().map(|o| o.trim().trim_end_matches('/')).filter(|o| !o.is_empty()).collect();
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(std::time::Duration::from_secs(3600))
}

/// A GraphQL-shaped error response for requests refused before execution.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))).into_response()
}

fn viewer(state: &HttpState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.app.auth.viewer(authorization)
}

fn unauthorized(e: ApiError) -> Response {
    let mut response = refuse(StatusCode::UNAUTHORIZED, e.code(), &e.message());
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn graphql_post(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    // Only JSON bodies: a form or text/plain POST from another site cannot be a mutation.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|ct| ct == "application/json" || ct == "application/graphql-response+json");
    if !json_body {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "POST /graphql takes Content-Type: application/json",
        );
    }
    let viewer = match viewer(&state, &headers) {
        Ok(v) => v,
        Err(e) => return unauthorized(e),
    };
    let media = media(&headers);
    let (params, is_batch) = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(why) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request: {why}"),
            );
        }
    };
    if is_batch && params.len() > state.app.config.max_batch {
        let message = format!("at most {} operations per batch", state.app.config.max_batch);
        return refuse(StatusCode::BAD_REQUEST, "BATCH_TOO_LARGE", &message);
    }
    let mut requests = Vec::with_capacity(params.len());
    for params in params {
        let (mut request, document_id) = params.into_request();
        if let Err(r) = crate::trusted::admit(state.app.trusted.as_deref(), &viewer, &mut request, document_id) {
            return refuse(r.status, r.code, &r.message);
        }
        requests.push(request.data(viewer.clone()).data(crate::graphql::fast::Render));
    }
    let batch = match (is_batch, requests.pop()) {
        (true, Some(last)) => {
            requests.push(last);
            BatchRequest::Batch(requests)
        }
        (false, Some(one)) => BatchRequest::Single(one),
        (_, None) => return refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the body holds no request"),
    };
    reply(media, crate::graphql::execute(&state.schema, batch).await)
}

/// The parameters of one GraphQL-over-HTTP request. Stricter than async-graphql's own reading:
/// `query` must be there and be a string, `variables` and `extensions` objects (or null), so a
/// malformed request is a 400 that says what is wrong rather than a GraphQL error about an empty
/// document.
#[derive(serde::Deserialize)]
struct Params {
    #[serde(default)]
    query: Option<String>,
    /// A trusted document's id instead of `query` (Relay sends `doc_id`).
    #[serde(default, rename = "documentId", alias = "doc_id")]
    document_id: Option<String>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Params {
    /// The request, and the trusted document id it names (see `trusted::admit`).
    fn into_request(self) -> (async_graphql::Request, Option<String>) {
        let mut request = async_graphql::Request::new(self.query.unwrap_or_default());
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            request = request.variables(Variables::from_json(serde_json::Value::Object(variables)));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = async_graphql::Extensions(extensions_of(extensions));
        }
        (request, self.document_id)
    }
}

/// A POST body: one request object, or an array of them (a batch); whether it was an array.
fn parse_body(body: &[u8]) -> Result<(Vec<Params>, bool), String> {
    let is_batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if is_batch {
        let requests: Vec<Params> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if requests.is_empty() {
            return Err("an empty batch".to_owned());
        }
        Ok((requests, true))
    } else {
        let request: Params = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok((vec![request], false))
    }
}

/// The media type of a response (GraphQL over HTTP): `application/graphql-response+json` when the
/// client lists it before `application/json` in `Accept`, else `application/json`, which is also
/// what a client without `Accept` gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    Json,
    GraphqlResponse,
}

fn media(headers: &HeaderMap) -> Media {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Media::Json;
    };
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>() == Ok(0.0)));
        if refused {
            continue;
        }
        match ty.as_str() {
            "application/graphql-response+json" => return Media::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => return Media::Json,
            _ => {}
        }
    }
    Media::Json
}

/// Whether `response` failed because the database did not answer.
fn unavailable(response: &async_graphql::Response) -> bool {
    let code = async_graphql::Value::from(crate::error::SERVICE_UNAVAILABLE);
    response.errors.iter().any(|e| e.extensions.as_ref().and_then(|x| x.get("code")) == Some(&code))
}

/// Writes an executed request in `media`. Under `application/graphql-response+json`, a request
/// that failed before execution (see `errors::REQUEST_ERROR_MARK`) is a 400 without `data`;
/// anything that executed is a 200, as it always is under `application/json`, except that a
/// response the database could not serve is a 503 with `Retry-After` in either media type, so
/// load balancers and clients retry it like any other outage.
fn reply(media: Media, response: async_graphql::BatchResponse) -> Response {
    let content_type = match media {
        Media::Json => "application/json",
        Media::GraphqlResponse => "application/graphql-response+json",
    };
    let (status, body) = match &response {
        async_graphql::BatchResponse::Single(r)
            if media == Media::GraphqlResponse && crate::graphql::errors::is_request_error(r) =>
        {
            (StatusCode::BAD_REQUEST, serde_json::to_vec(&json!({ "errors": r.errors })))
        }
        _ => (StatusCode::OK, crate::json::to_vec(&response, crate::json::Fragments::Raw)),
    };
    let down = match &response {
        async_graphql::BatchResponse::Single(r) => unavailable(r),
        async_graphql::BatchResponse::Batch(rs) => rs.iter().any(unavailable),
    };
    match body {
        Ok(body) if down => {
            (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, content_type), (header::RETRY_AFTER, "1")], body)
                .into_response()
        }
        Ok(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a response could not be written as JSON");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
        }
    }
}

/// GET /graphql: a WebSocket upgrade (subscriptions, `ws.rs`), GraphiQL, or a query.
async fn graphql_get(State(state): State<HttpState>, request: axum::extract::Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let wants_websocket = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_websocket {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => crate::ws::upgrade(state.app.clone(), state.schema.clone(), ws, &parts.headers),
            Err(rejection) => rejection.into_response(),
        };
    }
    let params = match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(Query(params)) => params,
        Err(rejection) => return rejection.into_response(),
    };
    graphql_query_get(state, parts.headers, params).await
}

async fn graphql_query_get(state: HttpState, headers: HeaderMap, params: HashMap<String, String>) -> Response {
    let document_id = params.get("documentId").or_else(|| params.get("doc_id")).cloned();
    if !params.contains_key("query") && document_id.is_none() && !params.contains_key("extensions") {
        return Html(GRAPHIQL_HTML).into_response();
    }
    let name = params.get("operationName").map(String::as_str);
    // Queries only: a GET must never change anything (it can be triggered cross-site).
    if params.get("query").is_some_and(|query| is_mutation(query, name)) {
        return mutation_by_get();
    }
    let viewer = match viewer(&state, &headers) {
        Ok(v) => v,
        Err(e) => return unauthorized(e),
    };
    let media = media(&headers);
    let mut request = async_graphql::Request::new(params.get("query").cloned().unwrap_or_default());
    if let Some(extensions) = params.get("extensions") {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(extensions) {
            Ok(map) => request.extensions = async_graphql::Extensions(extensions_of(map)),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", "`extensions` is not a JSON object"),
        }
    }
    if let Err(r) = crate::trusted::admit(state.app.trusted.as_deref(), &viewer, &mut request, document_id) {
        return refuse(r.status, r.code, &r.message);
    }
    // A document named by id is known only now.
    if is_mutation(&request.query, name) {
        return mutation_by_get();
    }
    let mut request = request.data(viewer).data(crate::graphql::fast::Render);
    if let Some(name) = name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.get("variables") {
        match serde_json::from_str::<serde_json::Value>(vars) {
            Ok(v) => request = request.variables(Variables::from_json(v)),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", "`variables` is not JSON"),
        }
    }
    reply(media, crate::graphql::execute(&state.schema, request).await)
}

/// Whether the operation `name` selects in `query` (any, without a name) is not a query.
fn is_mutation(query: &str, name: Option<&str>) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(query) else { return false };
    doc.operations.iter().any(|(op_name, op)| {
        op.node.ty != OperationType::Query && (name.is_none() || op_name.map(|n| n.as_str()) == name)
    })
}

fn mutation_by_get() -> Response {
    let mut response = refuse(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "mutations must be sent with POST");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn extensions_of(map: serde_json::Map<String, serde_json::Value>) -> HashMap<String, async_graphql::Value> {
    map.into_iter().filter_map(|(k, v)| async_graphql::Value::from_json(v).ok().map(|v| (k, v))).collect()
}

/// The schema as SDL, for code generators (`graphql-codegen`, Apollo's and Relay's compilers).
async fn schema_sdl() -> Response {
    static SDL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sdl = SDL.get_or_init(crate::graphql::sdl).clone();
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], sdl).into_response()
}

/// 200 when the database answers a ping within `LEARNGRAPH_DB_TIMEOUT_MS`, 503 otherwise.
async fn ready(State(state): State<HttpState>) -> Response {
    let timeout = std::time::Duration::from_millis(state.app.config.db_timeout_ms.max(1));
    let why = match tokio::time::timeout(timeout, state.app.db.ping()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", timeout.as_millis()),
    };
    tracing::warn!(error = %why, "database not ready");
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

const GRAPHIQL_HTML: &str = include_str!("../assets/graphiql/index.html");

/// GraphiQL's files, served by the binary so that the IDE works without internet access.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("graphiql.min.js", "text/javascript", include_bytes!("../assets/graphiql/graphiql.min.js")),
    ("graphiql.min.css", "text/css", include_bytes!("../assets/graphiql/graphiql.min.css")),
    ("react.production.min.js", "text/javascript", include_bytes!("../assets/graphiql/react.production.min.js")),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
];

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=86400")], *bytes)
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
