//! AppC images (appc `spec/aci.md`, `spec/discovery.md`): names, discovery, the ACI format, signatures and the
//! AppC store under `--appc_store_dir` (`images/sha512-<hex>/{manifest,rootfs}`).
//!
//! Files: `name` (what a request names), `error`.

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
