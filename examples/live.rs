//! Live-update latency: from `recordAttempt` acknowledged over HTTP to the activity received over
//! WebSocket, on the replica that took the write and (PostgreSQL) on a second replica.
//!
//! ```sh
//! cargo run --release --example live
//! cargo run --release --example live -- --postgres postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example live -- --postgres postgres://postgres@127.0.0.1:5432/test --subscribers 200
//! ```
//!
//! Both replicas are full servers in this process (each with its own pool, hub and, on
//! PostgreSQL, its own LISTEN connection), as two processes would be. Writes are sequential: each
//! waits for its HTTP answer, and its latency is measured against that moment, on every
//! subscriber. A delivery that arrives before the HTTP answer counts as 0.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use learngraph::clock::Clock;
use learngraph::config::Config;
use learngraph::{Server, build_state};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[derive(Parser)]
struct Args {
    /// Attempts written, one at a time.
    #[arg(long, default_value_t = 1_000)]
    writes: usize,
    /// Subscribers on each replica.
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// Admin URL of a PostgreSQL server (a database is created and dropped); SQLite otherwise.
    #[arg(long)]
    postgres: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = support::BenchDatabase::create(args.postgres.as_deref(), "live").await?;
    let replicas = if args.postgres.is_some() { 2 } else { 1 };
    let mut addrs = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..replicas {
        let mut config = Config::for_database(&database.url);
        config.listen = "127.0.0.1:0".parse()?;
        let server = Server::bind(build_state(config, Clock::System).await?).await?;
        addrs.push(server.addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push((stop, tokio::spawn(server.run(async move { stopped.await.unwrap_or(()) }))));
    }
    let http = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://{}/graphql", addrs[0]);
    let created = post(
        &http,
        &url,
        "mutation { ensureLearner(input: { externalId: \"live-bench\" }) { learner { id } } }",
        json!({}),
    )
    .await?;
    let learner = created["ensureLearner"]["learner"]["id"].as_str().unwrap_or_default().to_owned();

    // Subscribers on every replica, each waiting for the whole run.
    let mut readers = Vec::new();
    for (replica, addr) in addrs.iter().enumerate() {
        for _ in 0..args.subscribers {
            let ws = subscribe(*addr, &learner).await?;
            readers.push((replica, tokio::spawn(read(ws, args.writes + 1))));
        }
    }
    // One warm-up write, delivered everywhere before measuring (so every subscription is live).
    record(&http, &url, &learner, "warm-up").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut acknowledged = HashMap::new();
    let started = Instant::now();
    for i in 0..args.writes {
        let exercise = format!("e{i}");
        record(&http, &url, &learner, &exercise).await?;
        acknowledged.insert(exercise, Instant::now());
    }
    let elapsed = started.elapsed();
    let mut by_replica: Vec<Vec<Duration>> = vec![Vec::new(); replicas];
    for (replica, reader) in readers {
        for (exercise, at) in reader.await?? {
            if let Some(ack) = acknowledged.get(&exercise) {
                by_replica[replica].push(at.saturating_duration_since(*ack));
            }
        }
    }
    println!(
        "{}: {} attempts written one at a time in {:.1} s ({:.0}/s), {} subscriber(s) per replica",
        database.engine(),
        args.writes,
        elapsed.as_secs_f64(),
        args.writes as f64 / elapsed.as_secs_f64(),
        args.subscribers
    );
    for (replica, mut latencies) in by_replica.into_iter().enumerate() {
        latencies.sort();
        let at =
            |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
        let label = if replica == 0 { "same replica as the write" } else { "the other replica" };
        println!(
            "  {label:<26} deliveries {:>7}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            latencies.len(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
    for (stop, task) in stops {
        stop.send(()).ok();
        task.await??;
    }
    database.drop().await
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn post(http: &reqwest::Client, url: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
    let body: Value =
        http.post(url).json(&json!({ "query": query, "variables": variables })).send().await?.json().await?;
    anyhow::ensure!(body.get("errors").is_none(), "{body}");
    Ok(body["data"].clone())
}

async fn record(http: &reqwest::Client, url: &str, learner: &str, exercise: &str) -> anyhow::Result<()> {
    let q = "mutation($l: ID!, $e: String!) { recordAttempt(input: { learnerId: $l, exerciseId: $e, isCorrect: true }) { attempt { id } } }";
    post(http, url, q, json!({ "l": learner, "e": exercise })).await.map(|_| ())
}

async fn subscribe(addr: SocketAddr, learner: &str) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/graphql").into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await?;
    ws.next().await;
    let query = "subscription($l: ID!) { learnerActivity(learnerId: $l, kinds: [ATTEMPT]) { attempt { exerciseId } } }";
    let subscribe =
        json!({ "type": "subscribe", "id": "1", "payload": { "query": query, "variables": { "l": learner } } });
    ws.send(Message::Text(subscribe.to_string().into())).await?;
    Ok(ws)
}

/// Reads `n` activities; returns each exercise id with the moment it arrived.
async fn read(mut ws: Socket, n: usize) -> anyhow::Result<Vec<(String, Instant)>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let Some(message) = tokio::time::timeout(Duration::from_secs(60), ws.next()).await? else { break };
        if let Message::Text(text) = message? {
            let at = Instant::now();
            let v: Value = serde_json::from_str(text.as_str())?;
            let exercise = v["payload"]["data"]["learnerActivity"]["attempt"]["exerciseId"].as_str();
            anyhow::ensure!(exercise.is_some(), "unexpected message {v}");
            out.push((exercise.unwrap_or_default().to_owned(), at));
        }
    }
    Ok(out)
}
