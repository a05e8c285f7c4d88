//! Offline images: `ucr load` / `ucr save` and the file-based image sources.
//!
//! Formats read (from a tar, a gzip/zstd compressed tar, or a directory):
//! - OCI image layouts (`oci-layout`, `index.json`, `blobs/<algo>/<hex>`), which is also what Docker ≥ 25
//!   `docker save` writes (plus a `manifest.json` whose `RepoTags` we take as names);
//! - `docker save` archives with `manifest.json` (Docker 1.10–24, skopeo `docker-archive:`);
//! - the legacy `docker save` layout (`repositories`, `<id>/json` with `parent`, `<id>/layer.tar`), the only
//!   one Mesos reads.
//!
//! Every archive becomes a list of `Candidate`s whose small parts (manifests, configs) are read and verified
//! first; `ingest` then streams the layers through the same single pass as a pull (hash the member, inflate,
//! hash the tar, confined apply into staging), skipping layers the store already has, and commits blobs,
//! layers and finally the image records only when every layer of the load verified. A damaged archive
//! therefore fails naming the member at fault and leaves nothing registered and nothing in staging.
//!
//! Files: `load` (discover, choose, name, ingest: the `load` entry point), `options` (what a load is asked
//! for), `candidate` (an image as discovered, before its layers are read), `members` (reading members of any
//! container), `docker` (both docker-archive forms), `oci_layout`, `ingest` (verify, stage, commit, register),
//! `save` (the OCI layout tar writer), `source` (the `--docker_registry` directory naming and the
//! `docker-archive:` / `oci-archive:` / `oci:` references), `error`.

mod candidate;
mod docker;
mod error;
mod ingest;
mod load;
mod members;
mod oci_layout;
mod options;
mod save;
mod source;

pub use error::{ArchiveError, LoadError, SaveError};
pub use load::load;
pub use options::{LoadOptions, Selector};
pub use save::save;
pub use source::{
    find_in_registry_dir, registry_dir_names, remote_registry, with_default_registry, ArchiveRef,
    Transport,
};
