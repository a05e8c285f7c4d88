//! Logs go to stderr through `tracing`, at `--log-level` for ucr's own crates, or as `UCR_LOG` says; as JSON
//! lines for the agent's `--log-format json`.

pub fn init(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UCR_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "ucr={level},ucr_registry={level},ucr_runtime={level},ucr_isolators={level}"
        ))
    });
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
}
