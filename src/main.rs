use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use learngraph::auth::Auth;
use learngraph::clock::Clock;
use learngraph::config::{Cli, Command, Config, MigrateAction};
use learngraph::{Server, build_state, db};
use migration::{Migrator, MigratorTrait};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cli.config.worker_threads > 0 {
        runtime.worker_threads(cli.config.worker_threads);
    }
    runtime.enable_all().build().context("starting the async runtime")?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.config.log).context("parsing LEARNGRAPH_LOG")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = build_state(config.clone(), Clock::System).await?;
            if state.auth.is_open() {
                tracing::warn!(
                    "no LEARNGRAPH_JWT_SECRET: open development mode, every request may read and write everything"
                );
            }
            let server = Server::bind(state).await?;
            tracing::info!(
                address = %server.addr,
                database = %db::redact(&config.database_url),
                worker_threads = tokio::runtime::Handle::current().metrics().num_workers(),
                "learngraph listening; GraphiQL at http://{}/graphql",
                server.addr
            );
            server.run(shutdown_signal()).await
        }
        Command::Migrate { action } => {
            // One connection: `fresh` turns SQLite's foreign-key checks off with a PRAGMA, which
            // holds for one connection only; its drops must run on that same connection.
            let conn = db::connect(&Config { db_max_connections: 1, ..config.clone() }).await?;
            match action {
                MigrateAction::Up => Migrator::up(&conn, None).await?,
                MigrateAction::Down => Migrator::down(&conn, Some(1)).await?,
                MigrateAction::Fresh => Migrator::fresh(&conn).await?,
                MigrateAction::Status => {}
            }
            for m in Migrator::get_migration_with_status(&conn).await? {
                println!("{:<40} {:?}", m.name(), m.status());
            }
            Ok(())
        }
        Command::Schema => {
            print!("{}", learngraph::graphql::sdl());
            Ok(())
        }
        Command::Export { learner, out } => {
            let state = build_state(config, Clock::System).await?;
            let started = std::time::Instant::now();
            let written = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    learngraph::cli::export(&state, &learner, std::io::BufWriter::new(file)).await?
                }
                None => learngraph::cli::export(&state, &learner, std::io::stdout().lock()).await?,
            };
            eprintln!(
                "exported {} rows ({} bytes) in {:.2} s",
                written.rows,
                written.bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Retention { dry_run } => {
            let state = build_state(config, Clock::System).await?;
            let policy = learngraph::store::retention::Policy::from_config(&state.config);
            if policy.is_off() {
                println!("retention is off: no LEARNGRAPH_*_RETENTION_DAYS setting is given");
                return Ok(());
            }
            let started = std::time::Instant::now();
            let report =
                learngraph::store::retention::sweep(&state.db, &state.write_gate, &policy, state.clock.now(), dry_run)
                    .await
                    .map_err(|e| anyhow::anyhow!("retention failed: {}", e.message()))?;
            println!("{report}");
            eprintln!("in {:.2} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Backup { out } => {
            anyhow::ensure!(
                config.database_url.starts_with("sqlite:"),
                "`learngraph backup` copies SQLite databases; for PostgreSQL use pg_dump (see the README)"
            );
            let db = db::connect(&config).await?;
            let started = std::time::Instant::now();
            db::backup(&db, &out).await?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!("wrote {} ({bytes} bytes) in {:.2} s", out.display(), started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Import { source, location, dry_run, strict, keep_user_ids } => {
            let state = build_state(config, Clock::System).await?;
            let options = learngraph::import::Options { dry_run, strict, merge_prefixed_ids: !keep_user_ids };
            let started = std::time::Instant::now();
            // A progress bar on a terminal; log lines otherwise.
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(0);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} learners, {elapsed} (eta {eta})")
                {
                    bar.set_style(style);
                }
                bar
            });
            let progress = |done: usize, total: usize| match &bar {
                Some(bar) => {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
                None => learngraph::import::log_progress(done, total),
            };
            let report = learngraph::import::run_with_progress(&state, source, &location, options, &progress).await;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let report = report?;
            for line in report.lines() {
                println!("{line}");
            }
            eprintln!("took {:.1} s", started.elapsed().as_secs_f64());
            if report.incomplete() {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Trust { files, out } => {
            let mut sources = Vec::with_capacity(files.len());
            for file in &files {
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                sources.push((file.display().to_string(), text));
            }
            let manifest = learngraph::trusted::manifest(&sources)?;
            let json = serde_json::to_string_pretty(&manifest)? + "\n";
            match out {
                Some(out) => {
                    std::fs::write(&out, json).with_context(|| format!("writing {}", out.display()))?;
                    eprintln!("wrote {} documents to {}", manifest.len(), out.display());
                }
                None => print!("{json}"),
            }
            Ok(())
        }
        Command::Token { sub, role, ttl_seconds } => {
            let auth = Auth::new(config.jwt_secret.as_ref().map(learngraph::config::Secret::expose));
            let token = auth
                .mint(&sub, role, ttl_seconds)
                .context("set LEARNGRAPH_JWT_SECRET (or --jwt-secret) to mint tokens")?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
