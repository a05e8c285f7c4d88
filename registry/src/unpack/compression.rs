//! How layer blobs are compressed: the compression a media type names or the first bytes show, and the
//! streaming decoder for it (the applier itself only ever sees a plain tar).

use std::io::{self, Read};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    /// ACIs only (appc `spec/aci.md` allows gzip, bzip2 and xz); never guessed for a registry layer.
    Bzip2,
    Xz,
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
    /// else is taken as a plain tar. A zstd stream may open with a skippable frame (RFC 8878 §3.1.2: magic
    /// 0x184D2A50–0x184D2A5F), which is zstd too: taking it for a tar made such layers fail as "numeric field
    /// was not a number".
    pub fn sniff(first_bytes: &[u8]) -> Compression {
        let skippable = first_bytes.len() >= 4
            && first_bytes[0] & 0xf0 == 0x50
            && first_bytes[1..4] == [0x2a, 0x4d, 0x18];
        if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || skippable {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// An ACI's compression by its magic number (gzip, bzip2, xz, or a plain tar), as rkt detects it. Apart
    /// from [`Compression::sniff`] so that a registry layer is never taken for bzip2 or xz: a plain layer tar
    /// whose first file is named `BZh…` must stay a tar.
    pub fn sniff_aci(first_bytes: &[u8]) -> Compression {
        if first_bytes.starts_with(b"BZh") {
            Compression::Bzip2
        } else if first_bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::None => "none",
        }
    }
}

/// Fills `buf` from `r` as far as the stream goes (a magic number may arrive in several reads); returns how
/// many bytes it got.
pub fn read_magic(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A streaming decompressor for `c`. Gzip uses `MultiGzDecoder` because layers written by parallel
/// compressors (pigz, some registries' re-compression) are several concatenated gzip members; zstd
/// decodes concatenated frames too, with the library's default window limit (128 MiB), which bounds
/// the memory a hostile frame can demand.
pub fn decoder<'a, R: Read + 'a>(r: R, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(r)),
        Compression::None => Box::new(r),
    })
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
        assert_eq!(Compression::sniff(b"BZh91AY"), Compression::None);
        assert_eq!(Compression::sniff_aci(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(
            Compression::sniff_aci(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Compression::Xz
        );
        assert_eq!(Compression::sniff_aci(b"manifest"), Compression::None);
    }
}
