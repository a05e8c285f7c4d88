//! AppC images for the `Images` service: the AppC flags (`--appc_store_dir`, `--appc_simple_discovery_uri_prefix`,
//! `--appc_trust_dir`, `--appc_signature_policy`), checked when the service is made; the puller they make; and
//! what an image's `app` section gives a container's process: `exec` as the entrypoint, `user:group`,
//! `supplementaryGIDs`, `workingDirectory`, `environment` — each only where the request says nothing, as an
//! image config's fields are. (Ports, mount points and resources are the container's: `spec::appc_app`.)

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ucr_registry::appc::discovery::{Discovery, Prefix};
use ucr_registry::appc::manifest::App;
use ucr_registry::appc::pull::{AppcConfig, AppcPuller};
use ucr_registry::appc::store::AppcStore;
use ucr_registry::appc::trust::Policy;
use ucr_registry::manifest::RunConfig;
use ucr_registry::tls::TlsOptions;

use super::error::Result;

/// The AppC flags as the front ends take them.
#[derive(Clone, Debug, Default)]
pub struct AppcSettings {
    /// `--appc_store_dir` (the front end defaults it to `<root>/store/appc`).
    pub store_dir: PathBuf,
    /// `--appc_simple_discovery_uri_prefix`: `http://…`, `https://…` or `/dir`; unset: meta discovery.
    pub simple_discovery_uri_prefix: Option<String>,
    /// `--appc_trust_dir` (default `<store_dir>/../appc-trust`, i.e. `<root>/store/appc-trust`).
    pub trust_dir: Option<PathBuf>,
    /// `--appc_signature_policy`: require, if-present or ignore; unset: require over plain HTTP, if-present
    /// over HTTPS and for local files.
    pub signature_policy: Option<String>,
    /// `--appc_trust_discovered_keys`: trust the keys a discovery page names (HTTPS only) for a signed image
    /// no key is trusted for yet.
    pub trust_discovered_keys: bool,
}

/// The settings, checked: a bad prefix or policy fails when the service is made, before any container.
#[derive(Clone, Debug)]
pub(super) struct Checked {
    settings: AppcSettings,
    discovery: Discovery,
    policy: Option<Policy>,
}

impl Checked {
    pub(super) fn new(settings: AppcSettings) -> Result<Checked> {
        let discovery = match &settings.simple_discovery_uri_prefix {
            Some(p) => Discovery::Simple(Prefix::parse(p)?),
            None => Discovery::Meta { port: None },
        };
        let policy = match &settings.signature_policy {
            Some(p) => Some(Policy::parse(p)?),
            None => None,
        };
        Ok(Checked {
            settings,
            discovery,
            policy,
        })
    }

    pub(super) fn store_dir(&self) -> &std::path::Path {
        &self.settings.store_dir
    }

    pub(super) fn puller(&self, tls: TlsOptions, stall: Duration) -> Result<AppcPuller> {
        let store = Arc::new(AppcStore::open(&self.settings.store_dir)?);
        let trust_dir = self.settings.trust_dir.clone().unwrap_or_else(|| {
            self.settings
                .store_dir
                .parent()
                .map_or_else(|| PathBuf::from("appc-trust"), |p| p.join("appc-trust"))
        });
        Ok(AppcPuller::new(
            AppcConfig {
                store_dir: self.settings.store_dir.clone(),
                discovery: self.discovery.clone(),
                trust_dir,
                policy: self.policy,
                trust_discovered_keys: self.settings.trust_discovered_keys,
                tls,
                stall,
            },
            store,
        )?)
    }
}

/// An app section as an image run config. `exec` is the image's default command, as a Docker CMD: a request
/// that names a command runs that instead (`ucr run appc:… /bin/true`, a Mesos command with a value, as the
/// Mesos `appc/runtime` isolator uses the task's command when there is one); a Mesos command with only
/// `arguments` gives them to `exec[0]`. `user:group` is resolved in the rootfs later (names, ids, or a
/// `/path` whose owner it means).
pub fn run_config(app: Option<&App>) -> RunConfig {
    let Some(app) = app else {
        return RunConfig::default();
    };
    RunConfig {
        entrypoint: None,
        cmd: (!app.exec.is_empty()).then(|| app.exec.clone()),
        env: Some(
            app.environment
                .iter()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect(),
        ),
        working_dir: app.working_directory.clone(),
        user: Some(format!("{}:{}", app.user, app.group)),
        supplementary_gids: app.supplementary_gids.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucr_registry::appc::manifest::NameValue;

    #[test]
    fn an_app_section_is_a_run_config() {
        let app = App {
            exec: vec!["/bin/worker".into(), "-v".into()],
            user: "/etc/worker.conf".into(),
            group: "nogroup".into(),
            supplementary_gids: vec![7],
            working_directory: Some("/srv".into()),
            environment: vec![NameValue {
                name: "A".into(),
                value: "1".into(),
            }],
            ..App::default()
        };
        let rc = run_config(Some(&app));
        assert_eq!(rc.cmd.as_deref(), Some(&app.exec[..]));
        assert_eq!(rc.entrypoint, None);
        assert_eq!(rc.user.as_deref(), Some("/etc/worker.conf:nogroup"));
        assert_eq!(rc.env, Some(vec!["A=1".to_string()]));
        assert_eq!(rc.supplementary_gids, vec![7]);
        assert_eq!(run_config(None).user, None);
    }

    #[test]
    fn bad_flags_fail_when_the_service_is_made() {
        let bad = |prefix: Option<&str>, policy: Option<&str>| {
            Checked::new(AppcSettings {
                simple_discovery_uri_prefix: prefix.map(Into::into),
                signature_policy: policy.map(Into::into),
                ..AppcSettings::default()
            })
            .is_err()
        };
        assert!(bad(Some("hdfs://nn/"), None));
        assert!(bad(None, Some("sometimes")));
        assert!(!bad(Some("https://h/"), Some("if-present")));
    }
}
