//! ucr-registry's integration tests, built as one test binary (one link of the crate and its dev-dependencies
//! instead of one per file): `Cargo.toml` sets `autotests = false` and names this file the only `[[test]]`.
//! Each former test file is a module here; `common` holds the helpers the `unpack_*` modules share.
//!
//! A new test file is declared below, or cargo never builds it.

mod common;

mod appc_ingest;
mod appc_trust;
mod archive;
mod conformance;
mod conformance_index;
mod conformance_layer;
mod pull_share;
mod unpack_errors;
mod unpack_hostile;
mod unpack_limits;
mod unpack_tree;
mod unpack_whiteouts;
