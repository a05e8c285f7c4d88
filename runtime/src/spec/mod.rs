//! Request parsing: the one `ContainerConfig` every request becomes, and the parsers of the request formats.
//! What a config and an image then make of the process to run is `crate::process`.
//!
//! - `config`: the `ContainerConfig` type; `pod`: the `PodConfig` type (a parent and its nested containers);
//! - `detect` (+ `mesos`, `marathon`): `ucr launch` input → config or pod config (Marathon pods:
//!   `marathon::pod`; Mesos task groups: `mesos::task_group`), and the unknown fields it skipped; `json`:
//!   reading JSON with the field path of any error; `proto`: protobuf-JSON scalars and enums; `ids`: container
//!   id rules; `secrets`: secret values; `docker_params`: Docker `parameters`.

pub mod config;
pub mod credential;
pub mod detect;
pub mod docker_params;
mod docker_values;
pub mod error;
pub mod health;
pub mod ids;
mod json;
pub mod marathon;
pub mod mesos;
pub mod pod;
mod proto;
pub mod secrets;

pub use config::*;
pub use detect::{
    detect, parse_request, parse_request_with, read_any, read_any_with, read_any_with_store,
    read_request, read_request_with, read_request_with_store, Format, Parsed, ParsedPod, Request,
};
pub use error::SpecError;
pub use ids::{marathon_container_id, validate_hostname, validate_id, MAX_ID_LEN};
pub use json::Unknown;
pub use pod::PodConfig;
pub use secrets::{DirSecrets, FileSecrets, SecretSource};
