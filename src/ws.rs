//! GraphQL over WebSocket at `/graphql`: the graphql-transport-ws protocol (what graphql-ws,
//! Apollo Client and urql speak), with its close codes:
//!
//! - 4400 a message that is not the protocol's, 4406 a client that did not ask for
//!   `graphql-transport-ws`, 4408 no `connection_init` in time, 4429 a second `connection_init`;
//! - 4401 `subscribe` before the connection was acknowledged, 4403 an invalid token in
//!   `connection_init` (or, with auth on, none) and a token that expired while connected;
//! - 4409 a second subscription with an id that is running;
//! - 1001 the server is shutting down.
//!
//! Each operation runs through the same schema as HTTP, with the connection's viewer. Sends are
//! awaited one at a time: a client that stops reading stops its subscriptions from being polled,
//! and a subscription that falls behind the per-learner buffer ends with SLOW_SUBSCRIBER.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::Response;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::stream::{AbortHandle, BoxStream, SelectAll};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Viewer;
use crate::error::ApiError;
use crate::graphql::{AppSchema, AppState};
use crate::live::ConnectionPermit;

/// The subprotocol this endpoint speaks.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// What a client may send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

/// Upgrades a GET /graphql that asks for a WebSocket.
pub fn upgrade(app: AppState, schema: AppSchema, ws: WebSocketUpgrade, headers: &HeaderMap) -> HttpResponse {
    let Some(permit) = app.live.connection() else {
        let message =
            format!("this server holds {} WebSocket connections, the most allowed", app.config.max_ws_connections);
        let body = json!({ "errors": [{ "message": message, "extensions": { "code": "TOO_MANY_CONNECTIONS" } }] });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    };
    let header_auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let ws = ws.protocols([PROTOCOL]).max_message_size(app.config.max_body_bytes);
    let speaks_protocol = ws.selected_protocol().is_some();
    ws.on_upgrade(move |socket| async move {
        let connection = Connection {
            socket,
            app,
            schema,
            header_auth,
            viewer: None,
            expires_at: None,
            running: HashMap::new(),
            outgoing: SelectAll::new(),
            next_generation: 0,
            _permit: permit,
        };
        connection.run(speaks_protocol).await;
    })
}

type Outgoing = BoxStream<'static, (String, u64, Option<Response>)>;

struct Connection {
    socket: WebSocket,
    app: AppState,
    schema: AppSchema,
    header_auth: Option<String>,
    /// Set by `connection_init`.
    viewer: Option<Viewer>,
    /// When the connection's token expires (Unix seconds).
    expires_at: Option<u64>,
    /// Running operations by client id.
    running: HashMap<String, Running>,
    outgoing: SelectAll<Outgoing>,
    next_generation: u64,
    _permit: ConnectionPermit,
}

/// One running operation.
struct Running {
    /// Which stream is this id's (an id can be reused after its operation completes).
    generation: u64,
    abort: AbortHandle,
    /// It has sent a `next`.
    started: bool,
}

/// Why the server closes a connection.
struct Close(u16, String);

impl Connection {
    async fn run(mut self, speaks_protocol: bool) {
        if !speaks_protocol {
            let reason = format!("Subprotocol not acceptable: use {PROTOCOL}");
            return self.close(Close(4406, reason)).await;
        }
        let mut shutdown = self.app.live.shutting_down();
        if *shutdown.borrow() {
            return self.close(Close(1001, "server shutting down".into())).await;
        }
        let init_timeout = tokio::time::sleep(Duration::from_secs(self.app.config.ws_init_timeout_secs));
        tokio::pin!(init_timeout);
        let mut expiry: Pin<Box<tokio::time::Sleep>> = Box::pin(tokio::time::sleep(Duration::MAX / 4));
        let closing = loop {
            tokio::select! {
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => {
                        match self.handle(text.as_str()).await {
                            Ok(()) => {}
                            Err(close) => break Some(close),
                        }
                        if let Some(at) = self.expires_at {
                            expiry.as_mut().reset(tokio::time::Instant::now() + until(at));
                            self.expires_at = None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => break Some(Close(4400, "Invalid message received: binary".into())),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                },
                Some((id, generation, response)) = self.outgoing.next(), if !self.outgoing.is_empty() => {
                    if let Err(()) = self.deliver(id, generation, response).await {
                        break None;
                    }
                }
                () = &mut init_timeout, if self.viewer.is_none() => {
                    break Some(Close(4408, "Connection initialisation timeout".into()));
                }
                () = &mut expiry => break Some(Close(4403, "Forbidden: the token expired".into())),
                _ = shutdown.changed() => break Some(Close(1001, "server shutting down".into())),
            }
        };
        for (_, running) in self.running.drain() {
            running.abort.abort();
        }
        if let Some(close) = closing {
            self.close(close).await;
        }
    }

    /// Handles one text message; `Err` closes the connection.
    async fn handle(&mut self, text: &str) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|e| Close(4400, format!("Invalid message received: {}", first_line(&e.to_string()))))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.viewer.is_some() {
                    return Err(Close(4429, "Too many initialisation requests".into()));
                }
                let (viewer, expires_at) = self.authenticate(payload.as_ref())?;
                self.viewer = Some(viewer);
                self.expires_at = expires_at;
                self.send(json!({ "type": "connection_ack" })).await.map_err(|()| Close(1011, String::new()))
            }
            ClientMessage::Ping { .. } => {
                self.send(json!({ "type": "pong" })).await.map_err(|()| Close(1011, String::new()))
            }
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::Subscribe { id, payload } => {
                let Some(viewer) = self.viewer.clone() else {
                    return Err(Close(4401, "Unauthorized".into()));
                };
                if self.running.contains_key(&id) {
                    return Err(Close(4409, format!("Subscriber for {id} already exists")));
                }
                let max = self.app.config.max_subscriptions_per_connection;
                if self.running.len() >= max {
                    let error = ApiError::TooManySubscriptions(max);
                    let error = json!({ "message": error.message(), "extensions": { "code": error.code() } });
                    return self
                        .send(json!({ "type": "error", "id": id, "payload": [error] }))
                        .await
                        .map_err(|()| Close(1011, String::new()));
                }
                let mut request = *payload;
                if let Err(r) = crate::trusted::admit(self.app.trusted.as_deref(), &viewer, &mut request, None) {
                    let error = json!({ "message": r.message, "extensions": { "code": r.code } });
                    return self
                        .send(json!({ "type": "error", "id": id, "payload": [error] }))
                        .await
                        .map_err(|()| Close(1011, String::new()));
                }
                self.start(id, request.data(viewer));
                Ok(())
            }
            ClientMessage::Complete { id } => {
                if let Some(running) = self.running.remove(&id) {
                    running.abort.abort();
                }
                Ok(())
            }
        }
    }

    /// The viewer of `connection_init`: its payload's `Authorization`, else the upgrade request's
    /// header. With auth on, a connection without a valid token is refused.
    fn authenticate(&self, payload: Option<&Value>) -> Result<(Viewer, Option<u64>), Close> {
        let from_payload = payload
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let authorization = from_payload.or_else(|| self.header_auth.clone());
        match self.app.auth.viewer_until(authorization.as_deref()) {
            Ok((Viewer::Anonymous, _)) => {
                Err(Close(4403, "Forbidden: send a token: {\"Authorization\": \"Bearer …\"}".into()))
            }
            Ok(viewer) => Ok(viewer),
            Err(e) => Err(Close(4403, format!("Forbidden: {}", e.message()))),
        }
    }

    fn start(&mut self, id: String, request: async_graphql::Request) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let responses = self.schema.full().execute_stream(request);
        let end = stream::once(std::future::ready((id.clone(), generation, None)));
        let tagged = {
            let id = id.clone();
            responses.map(move |r| (id.clone(), generation, Some(r))).chain(end)
        };
        let (abortable, abort) = stream::abortable(tagged);
        self.running.insert(id, Running { generation, abort, started: false });
        self.outgoing.push(abortable.boxed());
    }

    /// Sends one result of a running operation, or its end. A first result that is only errors
    /// (a validation error, a refused subscription) is the protocol's `error` and ends the
    /// operation.
    async fn deliver(&mut self, id: String, generation: u64, response: Option<Response>) -> Result<(), ()> {
        let Some(running) = self.running.get_mut(&id).filter(|r| r.generation == generation) else { return Ok(()) };
        let Some(response) = response else {
            self.running.remove(&id);
            return self.send(json!({ "type": "complete", "id": id })).await;
        };
        if !running.started && response.data == async_graphql::Value::Null && !response.errors.is_empty() {
            if let Some(running) = self.running.remove(&id) {
                running.abort.abort();
            }
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            return self.send(json!({ "type": "error", "id": id, "payload": errors })).await;
        }
        running.started = true;
        let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
        self.send(json!({ "type": "next", "id": id, "payload": payload })).await
    }

    async fn send(&mut self, message: Value) -> Result<(), ()> {
        self.socket.send(Message::Text(message.to_string().into())).await.map_err(|_| ())
    }

    async fn close(mut self, Close(code, mut reason): Close) {
        // A close frame's reason is at most 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        let frame = CloseFrame { code, reason: reason.into() };
        self.socket.send(Message::Close(Some(frame))).await.ok();
    }
}

fn until(unix_seconds: u64) -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // The same 30 s of leeway the token check allows.
    Duration::from_secs(unix_seconds.saturating_sub(now).saturating_add(30))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
