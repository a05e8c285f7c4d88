//! docker `config.json` and legacy `.dockercfg` files (request-supplied in Mesos `docker.config`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ucr_registry::auth::dockercfg::DockerConfig::parse(s, "fuzz");
    }
});
