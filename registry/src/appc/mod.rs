//! AppC images (appc `spec/aci.md`, `spec/discovery.md`): names, discovery, the ACI format, signatures and the
//! AppC store under `--appc_store_dir` (`images/sha512-<hex>/{manifest,rootfs}`).
//!
//! Files: `name` (what a request names: `appc:NAME[:VERSION][,LABEL=VALUE...][@ID]`), `manifest` (the strict
//! manifest reader), `discovery` (simple and meta) with `meta` (the page's tags), `transport` (HTTPS, plain
//! HTTP where allowed, files), `trust` (policy and OpenPGP verification), `ingest` (the one pass), `store`,
//! `whitelist` (`pathWhitelist` rendering), `pull` (all of it composed, dependencies depth-first), `error`.
//!
//! Written here rather than taken from a crate: there is no maintained Rust AppC library, and the one pass
//! (download → decompress → sha512 → confined apply) is the Docker path's own, which is what makes an ACI as
//! safe and as fast as a layer. Formats and protocols that have maintained crates use them: HTML (`html5gum`),
//! OpenPGP (`pgp`), gzip/bzip2/xz.

pub mod discovery;
pub mod error;
pub mod ingest;
pub mod manifest;
mod meta;
pub mod name;
pub mod pull;
pub mod store;
pub mod transport;
pub mod trust;
pub mod whitelist;

pub use error::AppcError;
pub use name::AppcName;
