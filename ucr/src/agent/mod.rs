//! `ucr agent`: the Mesos v1 agent API for containers (`POST /api/v1`), over the same containerizer library
//! and the same on-disk state as the CLI, so a container launched by either is seen, waited for, killed and
//! removed by both. Thin: HTTP in, a containerizer call, Mesos's JSON out.
//!
//! Files: `listen` (unix socket and TCP), `api` (Mesos's checks and status codes, in order), `calls` (the
//! calls), `launch`, `wait`, `attach` (ATTACH_CONTAINER_OUTPUT), `images` (PRUNE_IMAGES and the image GC),
//! `auth` (HTTP Basic), `metrics` (`/metrics`, `/metrics/snapshot`), `recovery`, `state`, `reply`; the
//! streams: `session` (LAUNCH_NESTED_CONTAINER_SESSION), `sessions` (what is known of them), `session_calls`
//! (the other calls on a session), `input` (ATTACH_CONTAINER_INPUT), `recordio` (a streamed request body).

mod api;
mod attach;
mod auth;
mod calls;
mod images;
mod input;
mod launch;
mod listen;
mod metrics;
mod negotiate;
mod recordio;
mod recovery;
mod reply;
mod session;
mod session_calls;
mod sessions;
mod state;
mod wait;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use clap::Args;

use ucr_runtime::containerizer::Forker;

use crate::context;
use crate::globals::{Globals, RegistryArgs};
use auth::Credentials;
use images::GcConfig;
use listen::{Bound, Listen};
use recovery::Mode;
use state::Agent;

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Where to serve: HOST:PORT (TCP) or unix:PATH (moves the socket from <runtime-dir>/ucr.sock); repeatable.
    #[arg(long)]
    pub listen: Vec<String>,
    /// Mesos --ip: also serve on IP:--port.
    #[arg(long)]
    pub ip: Option<String>,
    /// Mesos --port (with --ip; default 5051).
    #[arg(long)]
    pub port: Option<u16>,
    /// Mesos --authenticate_http_readwrite: every /api/v1 call needs HTTP Basic credentials.
    #[arg(
        long = "authenticate-http-readwrite",
        alias = "authenticate_http_readwrite"
    )]
    pub authenticate_http_readwrite: bool,
    /// Mesos --http_credentials: {"credentials":[{"principal":..,"secret":..}]} (a path or file:// URI).
    #[arg(long = "http-credentials", alias = "http_credentials")]
    pub http_credentials: Option<String>,
    /// Mesos --recover: reconnect (keep running containers) or cleanup (destroy them all, then exit).
    #[arg(long, default_value = "reconnect", value_parser = ["reconnect", "cleanup"])]
    pub recover: String,
    /// Mesos --image_gc_config: JSON (inline or a file) with image_disk_headroom, image_disk_watch_interval,
    /// excluded_images.
    #[arg(long = "image-gc-config", alias = "image_gc_config")]
    pub image_gc_config: Option<String>,
    /// text or json: one log line per API call either way.
    #[arg(long = "log-format", alias = "log_format", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl AgentArgs {
    fn listens(&self, g: &Globals) -> anyhow::Result<Vec<Listen>> {
        let mut out = Vec::new();
        for v in &self.listen {
            out.push(Listen::parse(v).map_err(|e| anyhow!(e))?);
        }
        if let Some(ip) = &self.ip {
            let v = format!("{ip}:{}", self.port.unwrap_or(5051));
            out.push(
                Listen::parse(&v)
                    .map_err(|e| anyhow!(e))
                    .context("--ip/--port")?,
            );
        }
        // The unix socket always (root only: the local operator's way in); --listen unix:PATH moves it.
        if !out.iter().any(|l| matches!(l, Listen::Unix(_))) {
            out.insert(0, Listen::Unix(g.runtime_dir.join("ucr.sock")));
        }
        Ok(out)
    }
}

/// `GET_FLAGS`: the options by their Mesos names, as strings. Credentials are never shown (their file's path
/// is: it is no secret).
fn flags(g: &Globals, a: &AgentArgs, listens: &[Listen]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        ("work_dir".into(), g.root.display().to_string()),
        ("runtime_dir".into(), g.runtime_dir.display().to_string()),
        (
            "docker_store_dir".into(),
            g.store_dir().display().to_string(),
        ),
        ("sandbox_directory".into(), g.sandbox_directory.clone()),
        ("log_level".into(), g.log_level.clone()),
        ("recover".into(), a.recover.clone()),
        (
            "authenticate_http_readwrite".into(),
            a.authenticate_http_readwrite.to_string(),
        ),
        (
            "docker_registry_fallback".into(),
            g.docker_registry_fallback.to_string(),
        ),
        (
            "listen".into(),
            listens
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ];
    let optional = [
        ("docker_registry", g.docker_registry.clone()),
        (
            "image_provisioner_backend",
            g.image_provisioner_backend.clone(),
        ),
        ("cgroups_root", g.cgroups_root.clone()),
        (
            "secrets_dir",
            g.secrets_dir.as_ref().map(|p| p.display().to_string()),
        ),
        ("isolation", g.isolation.isolation.clone()),
        ("http_credentials", a.http_credentials.clone()),
        ("image_gc_config", a.image_gc_config.clone()),
        ("resources", g.isolation.resources.clone()),
    ];
    f.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?))),
    );
    f.sort();
    f
}

pub fn run(g: &Globals, a: &AgentArgs) -> anyhow::Result<i32> {
    // First, while this process has one thread and nothing open: supervisors are forked, not exec'd.
    let forker = match Forker::start(&context::paths(g), &g.store_dir()) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            tracing::warn!(error = %e, "no forker: each launch execs `ucr __supervise`");
            None
        }
    };
    let listens = a.listens(g)?;
    let auth = match (a.authenticate_http_readwrite, &a.http_credentials) {
        (false, _) => None,
        (true, Some(p)) => Some(Credentials::load(p).map_err(|e| anyhow!(e))?),
        (true, None) => {
            return Err(anyhow!(
                "--authenticate_http_readwrite needs --http_credentials FILE"
            ))
        }
    };
    let gc = a
        .image_gc_config
        .as_deref()
        .map(GcConfig::parse)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let mode = if a.recover == "cleanup" {
        Mode::Cleanup
    } else {
        Mode::Reconnect
    };
    let _instance = lock_instance(&g.runtime_dir)?;
    let c = context::containerizer_with(g, Some(&a.registry), forker)?;
    let excluded = gc.as_ref().map(|g| g.excluded.clone()).unwrap_or_default();
    let secrets = g
        .secrets_dir
        .as_ref()
        .map(ucr_runtime::spec::DirSecrets::new);
    let agent = Agent::new(c, auth, flags(g, a, &listens), excluded, secrets);
    let rt = ucr_runtime::rt::runtime().context("starting the async runtime")?;
    rt.block_on(serve(agent, listens, mode, gc))
}

/// One agent per runtime dir: a second one would recover (and finish) the first one's containers under it.
fn lock_instance(runtime_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(runtime_dir).with_context(|| runtime_dir.display().to_string())?;
    let p = runtime_dir.join("agent.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .with_context(|| p.display().to_string())?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
        anyhow!(
            "another agent runs with --runtime-dir {} ({} is locked)",
            runtime_dir.display(),
            p.display()
        )
    })?;
    Ok(f)
}

async fn serve(
    agent: Arc<Agent>,
    listens: Vec<Listen>,
    mode: Mode,
    gc: Option<GcConfig>,
) -> anyhow::Result<i32> {
    let app = Router::new()
        .route("/api/v1", any(api::api))
        .route("/slave(1)/api/v1", any(api::api))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(prometheus))
        .route("/metrics/snapshot", get(snapshot))
        .with_state(agent.clone());
    let mut servers = tokio::task::JoinSet::new();
    for l in &listens {
        // Bound before recovery, so a client meanwhile gets 503 rather than a refused connection.
        let bound = listen::bind(l).await.map_err(|e| anyhow!(e))?;
        tracing::info!(listen = %l, "serving");
        let app = app.clone();
        match bound {
            Bound::Unix(u) => servers.spawn(async move { axum::serve(u, app).await }),
            Bound::Tcp(t) => servers.spawn(async move { axum::serve(t, app).await }),
        };
    }
    tokio::spawn(recovery::recover(agent.clone(), mode));
    if let Some(gc) = gc {
        tokio::spawn(images::gc_loop(agent, gc));
    }
    if let Some(r) = servers.join_next().await {
        r.context("a listener")?.context("serving")?;
    }
    Ok(0)
}

fn listing(agent: &Agent) -> (Vec<ucr_runtime::ContainerState>, PathBuf) {
    (
        agent.c.all_containers().unwrap_or_default(),
        agent.c.images().store_dir().to_path_buf(),
    )
}

async fn prometheus(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    let (containers, store) = listing(&agent);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        agent.metrics.prometheus(&containers, &store),
    )
}

async fn snapshot(State(agent): State<Arc<Agent>>) -> impl IntoResponse {
    let (containers, store) = listing(&agent);
    axum::Json(agent.metrics.snapshot(&containers, &store))
}
