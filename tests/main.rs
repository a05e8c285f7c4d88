//! The end-to-end tests of the `ucr` binary, one test binary (ripgrep's layout): each module is a suite, and
//! `common` holds what they share (a private root per test, the real binary, the host lock).

mod common;

mod agent;
mod agent_recovery;
mod agent_session;
mod appc;
mod archive;
mod attach;
mod disk_quota;
mod docker_params;
mod dry_run;
mod exec;
mod faults;
mod fetch;
mod foreign_layers;
mod full_disk;
mod health;
mod image_providers;
mod image_volumes;
mod isolation_cgroups;
mod isolation_fs;
mod kill_store_ops;
mod marathon_docs;
mod marathon_pods;
mod nested;
mod network;
mod network_multi;
mod no_image;
mod oci_containerd;
mod oci_namespaces;
mod oci_podman;
mod oci_spec;
mod packaging;
mod persistent_volumes;
mod pods;
mod pull;
mod request_credentials;
mod run;
mod run_specs;
mod secrets;
mod stop;
mod store;
mod supervisor_death;
mod top;
mod tty;
