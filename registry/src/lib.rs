//! ucr-registry — everything about images, nothing about containers.
//!
//! Roles:
//! - **reference**: parse and normalize image references exactly as docker does; **image_name**: what a
//!   request names (a reference, a file transport or an AppC name), parsed when the request is.
//! - **distribution client** (`client`, `auth`, `tls`, `manifest`, `blob`): talk to OCI/Docker registries over
//!   HTTPS with credentials, custom CAs, client certificates, token auth, retries and resumable blob streams.
//! - **store**: the content-addressed image store (blobs, unpacked layers keyed by diff_id, image records),
//!   committed atomically through `staging/`.
//! - **unpack**: the confined, single-pass layer applier (the `tar` crate only parses headers).
//! - **confined**: the one resolver of paths below a root (`openat2(RESOLVE_IN_ROOT)`), shared with the
//!   runtime's fetcher, launcher and process set-up.
//! - **pull**: composes the above: manifest → platform → parallel verified layer streams → store.
//! - **appc**: AppC images: names, simple and meta discovery, the ACI's single pass (the applier's strict ACI
//!   form), OpenPGP signatures (the `pgp` crate, rkt's trust layout), dependencies, `pathWhitelist`, its own store.
//! - **archive**: offline images: `load` (docker-archive, legacy `docker save`, OCI layouts) and `save` (an OCI
//!   layout tar), through the same verified single-pass ingest; the `--docker_registry DIR` naming.
//!
//! Every error is typed (`Error`) and names the url, path or digest at fault; secrets never reach `Debug`.

pub mod appc;
pub mod archive;
pub mod auth;
pub mod blob;
pub mod client;
pub mod confined;
pub mod conformance;
pub mod descriptor;
pub mod digest;
pub mod error;
pub mod image_name;
pub mod manifest;
pub mod offthread;
pub mod platform;
pub mod pull;
pub mod reference;
pub mod secret;
pub mod store;
pub mod tls;
pub mod unpack;

pub use digest::Digest;
pub use error::{Error, Result};
pub use image_name::{ImageName, NameKind};
pub use reference::ImageRef;
