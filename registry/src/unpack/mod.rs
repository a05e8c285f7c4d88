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
//! Behaviour worth knowing (each is tested in `registry/tests/unpack.rs`):
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
//! Module map: `apply` (the entry loop), `header` (reading and checking one entry's header), `pax` (a
//! correct PAX record reader and where the extension headers are), `fsops` (fd-relative primitives),
//! `meta` (owner, mode, times, xattrs), `whiteout` (OCI whiteouts in overlay or merged form), `name`
//! (normalization), `limits` (bounds and the metered reader), `error`.

mod apply;
mod error;
mod fsops;
mod header;
mod limits;
mod meta;
mod name;
mod pax;
mod whiteout;

use std::io::{self, Read};
use std::path::Path;

pub use error::UnpackError;
pub use limits::Limits;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// The compression named by a layer media type (OCI, OCI non-distributable, Docker schema2), or
    /// `None` if the media type is not a layer type we know.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        // Parameters (`; charset=...`) never change the compression.
        let mt = mt.split(';').next().unwrap_or(mt).trim();
        match mt {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Guesses the compression from the first bytes of a blob (gzip and zstd magic numbers); anything
    /// else is taken as a plain tar.
    pub fn sniff(first_bytes: &[u8]) -> Compression {
        if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A streaming decompressor for `c`. Gzip uses `MultiGzDecoder` because layers written by parallel
/// compressors (pigz, some registries' re-compression) are several concatenated gzip members; zstd
/// decodes concatenated frames too, with the library's default window limit (128 MiB), which bounds
/// the memory a hostile frame can demand.
pub fn decoder<'a, R: Read + 'a>(r: R, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Compression::None => Box::new(r),
    })
}

/// Where a layer is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Into an empty store layer dir used as an overlayfs lower: whiteouts become 0/0 character devices
    /// and opaque directories get `trusted.overlay.opaque=y`.
    Overlay,
    /// Onto a merged rootfs dir holding the lower layers: a whiteout deletes the path, an opaque marker
    /// deletes the dir's children that came from lower layers (entries of this same layer stay).
    Merge,
}

/// What one application did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Tar entries processed (including whiteouts and global PAX headers).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
}

/// Applies the (already decompressed) layer tar `tar` under `root`, confined to it.
///
/// `tar` is read strictly sequentially and to EOF, including the end-of-archive blocks and anything after
/// them, so a hash computed over it covers every byte. On error the tree under `root` is left half-written:
/// the caller applies into staging and discards it.
pub fn apply_layer<R: Read>(
    tar: R,
    root: &Path,
    mode: Mode,
    limits: &Limits,
) -> Result<ApplyStats, UnpackError> {
    apply::run(tar, root, mode, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_magic() {
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar"),
            Some(Compression::None)
        );
        assert_eq!(Compression::from_media_type("application/json"), None);
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"etc/"), Compression::None);
    }
}
