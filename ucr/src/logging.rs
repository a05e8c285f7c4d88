//! Logs go to stderr through `tracing`, at `--log-level` for ucr's own crates, or as `UCR_LOG` says; as JSON
//! lines for the agent's `--log-format json`.

pub fn init(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UCR_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "ucr={level},ucr_registry={level},ucr_runtime={level},ucr_isolators={level}"
        ))
    });
    // Colour only for a person at a terminal: ANSI codes in a log file or a pipe are noise.
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(tty)
        .with_writer(std::io::stderr);
    let _ = if json {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
}
