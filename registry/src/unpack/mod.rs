//! The confined, single-pass layer applier.
//!
//! Layer application is where container runtimes had their worst escapes (docker CVE-2014-6407 and
//! CVE-2018-15664, containerd CVE-2021-32760, umoci CVE-2021-29136). The rules that keep this one safe:
//!
//! - The `tar` crate is only a header parser. Nothing here calls `Entry::unpack*`; every byte is written
//!   by us into a file descriptor we opened.
//! - Every path operation is relative to a directory fd. Parents are resolved with `openat2` and
//!   `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, so a symlink in the layer (absolute, `../..`, or a chain)
//!   resolves as if the layer root were `/` and can never leave it. The final component is never
//!   followed: it is created with `O_EXCL|O_NOFOLLOW`, `mkdirat`, `symlinkat`, `mknodat` or `linkat`, and
//!   whatever was there before is removed first, never written through.
//! - Names are normalized lexically: leading `/` and `./` are dropped and `..` is clamped at the root, as
//!   docker and containerd do (`../../etc/x` lands at `etc/x`). The root itself only takes metadata.
//! - The stream is read once, in order, to its very end (the caller hashes it for the diff_id), and every
//!   resource a layer can claim is bounded by [`Limits`].
//!
//! Behaviour worth knowing (each is tested in `registry/tests/unpack_*.rs`):
//!
//! - A parent reached through a symlink resolves inside the root; if that target directory does not
//!   exist the entry fails (`evil -> /tmp/x` then `evil/f`), it is not created through the link.
//! - A hardlink's target is resolved inside the root and must exist there (so a layer cannot link to a
//!   file of a lower layer in overlay mode, nor ever to a host file); a final symlink is linked itself.
//! - A whiteout hides lower layers only (OCI image spec): an entry of the same name in the same layer
//!   stays, in both modes, whichever comes first. That keeps the overlay and merged forms equal.
//! - Xattrs come from `SCHILY.xattr.*`. `trusted.overlay.*` from a layer is dropped (only whiteouts may
//!   steer overlayfs). Xattrs on symlinks, devices and fifos are not applied: that would need a
//!   path-based `lsetxattr`, and nothing here builds host paths.
//! - The tar crate mis-reads PAX records whose values hold a newline; we read them ourselves and refuse
//!   any entry whose name, link target or size the two readings disagree on (see `pax`).
//! - GNU sparse entries are expanded (holes written as zeros); PAX-format sparse files are refused, as
//!   are entry types other than file, dir, symlink, hardlink, device, fifo and global PAX header.
//!
//! Module map: `apply` ([`apply_layer`], [`apply_aci`] and their entry loop), `aci` (the ACI form's routing), `compression` (media types, magic numbers,
//! decoders), `mode` (overlay or merged form), `header` (reading and checking one entry's header), `pax` (a
//! correct PAX record reader and where the extension headers are), `fsops` (fd-relative primitives),
//! `meta` (owner, mode, times, xattrs), `whiteout` (OCI whiteouts in overlay or merged form), `name`
//! (normalization), `limits` (bounds and the metered reader), `error`.

mod aci;
mod apply;
mod compression;
mod error;
mod fsops;
mod header;
mod limits;
mod meta;
mod mode;
mod name;
mod pax;
mod whiteout;

pub use apply::{apply_aci, apply_layer, ApplyStats};
pub use compression::{decoder, read_magic, Compression};
pub use error::UnpackError;
pub use limits::Limits;
pub use mode::Mode;
