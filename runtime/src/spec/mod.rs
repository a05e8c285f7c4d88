//! Container specs: the one `ContainerConfig` every request becomes, the parsers of the request formats, and the
//! Mesos rules that turn a config plus an image config into the process to run.
//!
//! - `config`: the `ContainerConfig` type;
//! - `detect` (+ `mesos`, `marathon`): `ucr launch` input → config; `ids`: container id rules;
//! - `command`, `env`, `user`, `exec_lookup`: config + image → argv, environment, working directory, uid/gids,
//!   and the program's path in the rootfs.

pub mod command;
pub mod config;
pub mod detect;
pub mod docker_params;
pub mod env;
pub mod error;
pub mod exec_lookup;
pub mod ids;
pub mod marathon;
pub mod mesos;
mod proto;
mod rootfs;
pub mod secrets;
pub mod user;

#[cfg(test)]
mod fixture_tests;

pub use command::{resolve_argv, resolve_command, ResolvedCommand};
pub use config::*;
pub use detect::{detect, parse_request, parse_request_with, Format};
pub use env::{build_env, working_dir, DEFAULT_PATH};
pub use error::SpecError;
pub use exec_lookup::{lookup, LookupError};
pub use ids::{marathon_container_id, validate_id, MAX_ID_LEN};
pub use secrets::{FileSecrets, SecretSource};
pub use user::{resolve_user, ResolvedUser};
