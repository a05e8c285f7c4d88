//! The content-addressed image store under `--docker_store_dir`:
//! ```text
//! blobs/sha256/<hex>            compressed layers, configs, manifests — verified before they appear here
//! layers/sha256/<hex>/fs        one unpacked layer per diff_id, whiteouts in overlay form
//! layers/sha256/<hex>/layer.json  its record (diff_id, blob digest, sizes)
//! images/<sha256(reference)>.json image records: reference → manifest → config, layers
//! staging/<pid>-<n>/            work in progress; removed when its process is gone
//! lock                          flock: pulls share it, prune/rmi/check take it exclusively
//! ```
//! Every commit is write-in-staging, fsync, rename: a crash at any instant leaves either the old or the new
//! state visible, never a half-written blob, layer or record.
//!
//! Files: `handle` (the [`Store`] handle, opening, the store lock), `staging` (work in progress and its
//! cleanup), `durable` (the directory fsync every commit ends with), `blobs`, `layers`, `images` (the three
//! kinds of content and their commits), `check` (prune and check), `materialize` (`ucr unpack`). The last
//! five add their methods to `Store`; `staging` and `durable` know nothing of it.

mod blobs;
mod check;
mod durable;
mod handle;
mod images;
mod layers;
mod materialize;
mod staging;

pub use check::CheckReport;
/// For the AppC store, which keeps its own `staging/` the same way.
pub(crate) use durable::{seal, sync_dir};
pub use handle::{Store, StoreLock};
pub use images::{ImageRecord, LayerRef};
pub use layers::LayerRecord;
pub use staging::Staging;
pub(crate) use staging::{clean as clean_staging, remove_tree};
