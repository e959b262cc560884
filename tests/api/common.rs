//! The test harness: a real server on port 0 over a fresh database (a temp SQLite file, or a
//! uniquely named PostgreSQL database when `LEARNGRAPH_TEST_POSTGRES_URL` is set).

use std::net::SocketAddr;
use std::path::PathBuf;

use async_graphql::{Request, Variables};
use learngraph::auth::Viewer;
use learngraph::clock::Clock;
use learngraph::config::{Config, Role};
use learngraph::graphql::{AppSchema, AppState, build_schema};
use learngraph::{Server, build_state};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL one is ignored (and reported as such) unless
/// `LEARNGRAPH_TEST_POSTGRES_URL` was set when the tests were built (build.rs).
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(learngraph_pg), ignore = "set LEARNGRAPH_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() { super::$name($crate::common::Backend::Postgres).await }
            )*
        }
    };
}

pub fn postgres_url() -> Option<String> {
    std::env::var("LEARNGRAPH_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

pub const SECRET: &str = "test-secret-with-enough-entropy-0123456789";

pub struct TestApp {
    pub state: AppState,
    pub schema: AppSchema,
    pub addr: SocketAddr,
    pub clock: Clock,
    pub backend: Backend,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    sqlite_dir: Option<PathBuf>,
    pg_database: Option<(String, String)>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, Clock::System, |_| {}).await
    }

    /// A server whose "now" is `clock` and whose settings `tweak` may change.
    pub async fn spawn_with(backend: Backend, clock: Clock, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (url, sqlite_dir, pg_database) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("learngraph-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                (format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display()), Some(dir), None)
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("LEARNGRAPH_TEST_POSTGRES_URL");
                let name = format!("lg_test_{unique}");
                let conn = Database::connect(&admin).await.expect("connect to PostgreSQL");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                conn.close().await.ok();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("database URL with a path");
                (format!("{base}/{name}"), None, Some((admin, name)))
            }
        };
        let mut config = Config::for_database(&url);
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.log = "warn".into();
        tweak(&mut config);
        let state = build_state(config.clone(), clock.clone()).await.expect("state");
        let mut app = TestApp {
            schema: build_schema(state.clone()),
            state,
            addr: "127.0.0.1:0".parse().expect("addr"),
            clock,
            backend,
            config,
            shutdown: None,
            server: None,
            sqlite_dir,
            pg_database,
        };
        app.start().await;
        app
    }

    async fn start(&mut self) {
        let server = Server::bind(self.state.clone()).await.expect("bind");
        self.addr = server.addr;
        let (tx, rx) = oneshot::channel();
        self.shutdown = Some(tx);
        self.server = Some(tokio::spawn(async move {
            server.run(async { rx.await.unwrap_or(()) }).await.expect("serve");
        }));
    }

    /// The database URL this app uses (for running the binary against it).
    pub fn database_url(&self) -> &str {
        &self.config.database_url
    }

    /// Stops the server and closes the database, then starts a new server on the same database.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(h) = self.server.take() {
            h.await.ok();
        }
        self.state.reader.release();
        self.state.db.clone().close().await.expect("close");
        self.state = build_state(self.config.clone(), self.clock.clone()).await.expect("state");
        self.schema = build_schema(self.state.clone());
        self.start().await;
    }

    /// Executes a document in-process as `viewer`; returns the whole response as JSON.
    pub async fn exec_as(&self, viewer: Viewer, query: &str, variables: Value) -> Value {
        let request = Request::new(query).variables(Variables::from_json(variables)).data(viewer);
        // On a worker task, as the server runs requests: the loaders batch per scheduler pass,
        // which a future polled by `block_on` (the test's own thread) does not give them.
        let schema = self.schema.clone();
        let response = tokio::spawn(async move { learngraph::graphql::execute(&schema, request).await })
            .await
            .expect("request task");
        serde_json::to_value(response).expect("response json")
    }

    /// A second replica on the same database (its own pool, loaders and caches), as production
    /// runs several; returns its schema.
    pub async fn replica(&self) -> AppSchema {
        build_schema(self.replica_state().await)
    }

    /// The state of a second replica on the same database (its own pool and hub).
    pub async fn replica_state(&self) -> AppState {
        build_state(self.config.clone(), self.clock.clone()).await.expect("replica state")
    }

    /// Executes one named operation of a document as `viewer`; returns the whole response.
    pub async fn exec_named(&self, viewer: Viewer, query: &str, name: &str, variables: Value) -> Value {
        let request = Request::new(query).operation_name(name).variables(Variables::from_json(variables)).data(viewer);
        let schema = self.schema.clone();
        let response = tokio::spawn(async move { learngraph::graphql::execute(&schema, request).await })
            .await
            .expect("request task");
        serde_json::to_value(response).expect("response json")
    }

    /// Executes as an open-mode viewer and returns `data`, failing the test on any error.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let response = self.exec_as(Viewer::Open, query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }

    /// Executes as open mode and returns the first error's `extensions.code`.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let response = self.exec_as(Viewer::Open, query, variables).await;
        first_code(&response)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a GraphQL request over HTTP with an optional bearer token.
    pub async fn post(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = http_client().post(self.url("/graphql")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub fn token(&self, sub: &str, role: Role) -> String {
        learngraph::auth::Auth::new(Some(SECRET)).mint(sub, role, 3600).expect("mint")
    }

    /// Creates a learner and returns its global id.
    pub async fn learner(&self, external_id: &str) -> String {
        let data = self
            .ok(
                "mutation($e: String!) { ensureLearner(input: { externalId: $e }) { learner { id } } }",
                json!({ "e": external_id }),
            )
            .await;
        data["ensureLearner"]["learner"]["id"].as_str().expect("id").to_owned()
    }

    /// Creates a goal titled "T" for a learner and returns its global id.
    pub async fn goal(&self, learner_id: &str) -> String {
        let data = self
            .ok(
                "mutation($l: ID!) { createGoal(input: { learnerId: $l, title: \"T\" }) { goal { id } } }",
                json!({ "l": learner_id }),
            )
            .await;
        data["createGoal"]["goal"]["id"].as_str().expect("id").to_owned()
    }

    /// Counts the learner's rows of a registry table, directly or through its parent.
    pub async fn count_learner_rows(
        &self,
        table: &learngraph::store::registry::LearnerTable,
        learner: uuid::Uuid,
    ) -> i64 {
        use learngraph::store::registry::Reach;
        let id = match self.backend {
            Backend::Postgres => format!("'{learner}'"),
            Backend::Sqlite => format!("x'{}'", learner.simple()),
        };
        let sql = match table.reach {
            Reach::LearnerId => format!("SELECT COUNT(*) AS n FROM {} WHERE learner_id = {id}", table.name),
            Reach::Parent { column, parent } => format!(
                "SELECT COUNT(*) AS n FROM {} WHERE {column} IN (SELECT id FROM {parent} WHERE learner_id = {id})",
                table.name
            ),
        };
        self.scalar_i64(&sql).await
    }

    async fn scalar_i64(&self, sql: &str) -> i64 {
        let row = self
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(self.state.db.get_database_backend(), sql.to_owned()))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Counts rows of `table` whose `learner_id` is the learner's UUID (raw SQL, both engines).
    pub async fn count_rows(&self, table: &str, learner_uuid: Option<uuid::Uuid>) -> i64 {
        let sql = match (learner_uuid, self.backend) {
            (None, _) => format!("SELECT COUNT(*) AS n FROM {table}"),
            (Some(id), Backend::Postgres) => format!("SELECT COUNT(*) AS n FROM {table} WHERE learner_id = '{id}'"),
            (Some(id), Backend::Sqlite) => {
                format!("SELECT COUNT(*) AS n FROM {table} WHERE learner_id = x'{}'", id.simple())
            }
        };
        let row = self
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(self.state.db.get_database_backend(), sql))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(dir) = self.sqlite_dir.take() {
            std::fs::remove_dir_all(dir).ok();
        }
        if let Some((admin, name)) = self.pg_database.take() {
            // Drop is synchronous: use a private runtime on another thread.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(conn) = Database::connect(&admin).await {
                        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
                        conn.close().await.ok();
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

pub fn first_code(response: &Value) -> String {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {response:#}"))
        .to_owned()
}

/// The UUID inside a global id.
pub fn uuid_of(global_id: &str) -> uuid::Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(global_id).expect("base64");
    let text = String::from_utf8(raw).expect("utf8");
    uuid::Uuid::parse_str(text.split_once(':').expect("kind:uuid").1).expect("uuid")
}

/// The database's tables and (table, column) pairs, read from its catalog.
pub async fn catalog(app: &TestApp) -> (Vec<String>, Vec<(String, String)>) {
    use sea_orm::ConnectionTrait;
    let (tables_sql, columns_sql) = match app.backend {
        Backend::Sqlite => (
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
        ),
        Backend::Postgres => (
            "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema()",
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema()",
        ),
    };
    let db = &app.state.db;
    let stmt = |sql: &str| sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned());
    let tables = db
        .query_all_raw(stmt(tables_sql))
        .await
        .expect("tables")
        .iter()
        .map(|r| r.try_get::<String>("", "t").expect("t"))
        .collect();
    let columns = db
        .query_all_raw(stmt(columns_sql))
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.try_get::<String>("", "t").expect("t"), r.try_get::<String>("", "c").expect("c")))
        .collect();
    (tables, columns)
}
