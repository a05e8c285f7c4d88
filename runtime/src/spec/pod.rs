//! A pod: what a Marathon pod definition or a Mesos task group asks for, as one parent container and the nested
//! containers that run its tasks (Mesos runs them under the default executor's container; ucr under a parent
//! whose only process is `ucr pause`).
//!
//! The parent holds what the pod's containers share: the network (every endpoint's port mapping is on it), the
//! UTS and IPC namespaces, the resource envelope, and the ephemeral volumes, which are directories in its
//! sandbox. Each child is an ordinary `ContainerConfig` with `nesting` set and an id `<pod>/<name>`.

use serde::{Deserialize, Serialize};

use super::config::{CommandSpec, ContainerConfig, PortMapping};

/// What `ucr launch` makes of a pod definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodConfig {
    /// No image, [`pause_command`], the pod's network (with every container's endpoints as port mappings, each
    /// named after its endpoint), the envelope as its resources and limits, the pod's labels.
    pub parent: ContainerConfig,
    /// In the pod's order; each `id` is `<parent id>/<container name>` and `nesting.parent` the parent's id. A
    /// child's network is the default (it joins the parent's); its health checks' `CheckPort::Index` index the
    /// parent's port mappings.
    pub children: Vec<ContainerConfig>,
    /// The pod's ephemeral volumes, by name: `volumes/<name>` in the parent's sandbox, mounted into children as
    /// `VolumeSource::SandboxParent`.
    #[serde(default)]
    pub ephemeral_volumes: Vec<String>,
}

/// The argument that makes the `ucr` executable a pod's pause process.
pub const PAUSE_ARG: &str = "pause";

/// The parent's process: the `ucr` executable itself, which sleeps until it is signalled. `/proc/self/exe`
/// stands for it in a request; the pod launch puts the executable's path in its place.
pub fn pause_command() -> CommandSpec {
    CommandSpec {
        shell: false,
        value: Some("/proc/self/exe".into()),
        arguments: vec!["/proc/self/exe".into(), PAUSE_ARG.into()],
        ..CommandSpec::default()
    }
}

/// Marathon's endpoint variables (`endpointEnvVars` in TaskGroupBuilder.scala) from the pod's port mappings as
/// allocated, each named after its endpoint: `ENDPOINT_<NAME>` (the host port on host networking, else the
/// container port), `EP_HOST_<NAME>` (when there is a host port) and `EP_CONTAINER_<NAME>` (when there is a
/// container port; never on host networking, where Marathon refuses `containerPort` and the allocated mapping's
/// container port is only the host port again). `<NAME>` is the name upper-cased with every run of characters
/// other than `A-Z0-9_` made one `_` (Marathon: `replaceAll("[^A-Z0-9_]+", "_")` after `toUpperCase`). A
/// mapping without a name has no variables; the mappings of one endpoint's several protocols give them once.
pub fn endpoint_env(host_network: bool, mappings: &[PortMapping]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for m in mappings {
        let Some(name) = &m.name else { continue };
        let n = env_name(name);
        let host = (m.host_port != 0).then_some(m.host_port);
        let container = (m.container_port != 0 && !host_network).then_some(m.container_port);
        let shown = if host_network { host } else { container };
        let mut put = |k: String, v: Option<u16>| {
            if let Some(v) = v {
                env.retain(|(e, _)| *e != k);
                env.push((k, v.to_string()));
            }
        };
        put(format!("ENDPOINT_{n}"), shown);
        put(format!("EP_HOST_{n}"), host);
        put(format!("EP_CONTAINER_{n}"), container);
    }
    env
}

/// An endpoint name as a variable name: upper-cased, each run of characters other than `A-Z0-9_` one `_`.
fn env_name(name: &str) -> String {
    let mut n = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.to_uppercase().chars() {
        if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
            n.push(c);
            in_run = false;
        } else if !in_run {
            n.push('_');
            in_run = true;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(host: u16, container: u16, protocol: &str, name: Option<&str>) -> PortMapping {
        PortMapping {
            host_port: host,
            container_port: container,
            protocol: protocol.into(),
            name: name.map(String::from),
            networks: Vec::new(),
        }
    }

    fn get<'e>(env: &'e [(String, String)], k: &str) -> Option<&'e str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn host_networking_shows_the_host_port_and_no_container_port() {
        // As allocated: on the host network the container port is the host port again.
        let env = endpoint_env(true, &[m(31005, 31005, "tcp", Some("http-api"))]);
        assert_eq!(
            env,
            [
                ("ENDPOINT_HTTP_API".to_string(), "31005".to_string()),
                ("EP_HOST_HTTP_API".to_string(), "31005".to_string()),
            ]
        );
    }

    #[test]
    fn container_networking_shows_the_container_port() {
        let env = endpoint_env(
            false,
            &[
                m(31001, 80, "tcp", Some("web")),
                m(31002, 53, "udp", Some("dns")),
                m(31002, 53, "tcp", Some("dns")),
                m(31003, 9000, "tcp", None),
            ],
        );
        assert_eq!(get(&env, "ENDPOINT_WEB"), Some("80"));
        assert_eq!(get(&env, "EP_HOST_WEB"), Some("31001"));
        assert_eq!(get(&env, "EP_CONTAINER_WEB"), Some("80"));
        assert_eq!(get(&env, "ENDPOINT_DNS"), Some("53"));
        // One endpoint's two protocols give its variables once; an unnamed mapping gives none.
        assert_eq!(env.len(), 6, "{env:?}");
    }

    #[test]
    fn names_escaped_as_marathon_does() {
        assert_eq!(env_name("http-api"), "HTTP_API");
        assert_eq!(env_name("a_-b"), "A__B");
        assert_eq!(env_name("a--b.c"), "A_B_C");
        assert_eq!(env_name("é1"), "_1");
    }

    #[test]
    fn pause_is_ucr_itself() {
        let c = pause_command();
        assert!(!c.shell);
        assert_eq!(c.arguments, ["/proc/self/exe", PAUSE_ARG]);
    }
}
