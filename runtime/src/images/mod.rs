//! Images for every front end: the `Images` service (`service`), where an image comes from (`source`: the store,
//! a file reference, a Mesos `--docker_registry` directory or registry, a pull), AppC images (`appc`), the
//! registry options the front ends take (`options`), and its errors. Image formats themselves are `ucr-registry`'s.

pub mod appc;
pub mod appc_gc;
pub mod error;
pub mod options;
pub mod providers;
pub mod prune;
mod pull_lock;
pub mod service;
pub mod source;

pub use appc::AppcSettings;
pub use error::ImageError;
pub use options::RegistryOptions;
pub use providers::Providers;
pub use prune::{Keep, Pruned};
pub use service::{Images, ImagesConfig, Notices, ProvidedImage, PullRequest, Pulled};
pub use source::{DockerRegistry, Source};
