//! One entry's header, read and checked before anything touches the filesystem: our own reading of
//! its extension headers (see `pax` for why), the cross-check against the tar crate's reading, the
//! per-entry bounds, and the metadata to apply.

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;

use rustix::fs::FileType;

use super::error::{ambiguous, bad, limit, UnpackError};
use super::limits::{Limits, Meter};
use super::meta::{self, Meta};
use super::pax::{self, Pax, Time};

/// What an entry is, after the old-style `regular file named dir/` convention is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    File,
    Dir,
    Symlink,
    Hardlink,
    Node(FileType),
    GlobalPax,
    Unsupported(u8),
}

/// An entry as read and checked.
pub(crate) struct Checked<'b> {
    pub kind: Type,
    /// Bytes of data the entry carries (for GNU sparse files, the expanded size).
    pub size: u64,
    pub meta: Meta,
    /// Device major and minor (0 when the header has none).
    pub dev: (u32, u32),
    /// `SCHILY.xattr.*` records, borrowed from `ext`.
    pub xattrs: Vec<(&'b [u8], &'b [u8])>,
}

/// Checks entry `e`, whose name as the tar crate read it is `raw`. Its header block is copied into
/// `hdr`, its PAX data and GNU long names into `ext`, and its link target (as written) into `link`.
pub(crate) fn check<'b, R: Read>(
    e: &tar::Entry<'_, R>,
    meter: &Meter,
    lim: &Limits,
    hdr: &mut tar::Header,
    raw: &[u8],
    ext: &'b mut Vec<u8>,
    link: &mut Vec<u8>,
) -> Result<Checked<'b>, UnpackError> {
    // Our own reading of the entry's headers (see `pax` for why).
    let (pax_r, name_r, link_r) = {
        let cap = meter.capture();
        let loc = pax::locate(&cap, meter.capture_start(), e.raw_header_position())
            .map_err(|w| bad(raw, w))?;
        hdr.as_mut_bytes().copy_from_slice(&cap[loc.header.clone()]);
        ext.clear();
        let mut keep = |r: Option<Range<usize>>| {
            r.map(|r| {
                let start = ext.len();
                ext.extend_from_slice(&cap[r]);
                start..ext.len()
            })
        };
        (keep(loc.pax), keep(loc.long_name), keep(loc.long_link))
    };
    if ext.len() > lim.max_pax_bytes {
        return Err(limit(
            "metadata bytes per entry",
            lim.max_pax_bytes as u64,
            Some(raw),
        ));
    }
    let ext: &'b [u8] = ext;
    let pax = match pax_r {
        Some(r) => Pax::parse(&ext[r]).map_err(|w| bad(raw, w))?,
        None => Pax::default(),
    };
    let long = |r: Option<Range<usize>>| r.map(|r| strip_nul(&ext[r]));
    let hdr: &tar::Header = hdr;

    let name_truth = truth(pax.path, long(name_r), || hdr.path_bytes()).map_err(|w| bad(raw, w))?;
    if *name_truth != *raw {
        return Err(ambiguous(raw, "name", raw, &name_truth));
    }
    let link_truth = truth(pax.linkpath, long(link_r), || {
        hdr.link_name_bytes().unwrap_or_default()
    })
    .map_err(|w| bad(raw, w))?;
    let parsed_link = e.link_name_bytes().unwrap_or_default();
    if *link_truth != *parsed_link {
        return Err(ambiguous(raw, "link target", &parsed_link, &link_truth));
    }
    link.clear();
    link.extend_from_slice(&link_truth);
    if link.len() > lim.max_path_len {
        return Err(limit(
            "link target length",
            lim.max_path_len as u64,
            Some(raw),
        ));
    }

    let typeflag = hdr.as_bytes()[156];
    let size = e.size();
    if pax.gnu_sparse {
        return Err(bad(raw, "PAX-format GNU sparse files are not supported"));
    }
    if typeflag == b'S' {
        if pax.size.is_some() {
            return Err(bad(raw, "a PAX size on a GNU sparse entry is ambiguous"));
        }
    } else {
        let declared = match pax.size {
            Some(s) => s,
            None => hdr.entry_size().map_err(|x| bad(raw, x))?,
        };
        if declared != size {
            return Err(ambiguous(
                raw,
                "size",
                size.to_string().as_bytes(),
                declared.to_string().as_bytes(),
            ));
        }
    }
    let xattr_bytes: usize = pax.xattrs.iter().map(|(n, v)| n.len() + v.len()).sum();
    if xattr_bytes > lim.max_xattr_bytes {
        return Err(limit(
            "xattr bytes per entry",
            lim.max_xattr_bytes as u64,
            Some(raw),
        ));
    }

    let id = |pax: Option<u64>, hdr: io::Result<u64>, what: &str| -> Result<u32, UnpackError> {
        let v = match pax {
            Some(v) => v,
            None => hdr.map_err(|x| bad(raw, x))?,
        };
        u32::try_from(v)
            .ok()
            .filter(|&v| v != u32::MAX)
            .ok_or_else(|| bad(raw, format!("{what} {v} is out of range")))
    };
    let mtime = match pax.mtime {
        Some(t) => t,
        None => Time {
            secs: hdr.mtime().map_err(|x| bad(raw, x))?.min(i64::MAX as u64) as i64,
            nanos: 0,
        },
    };
    let m = Meta {
        uid: id(pax.uid, hdr.uid(), "uid")?,
        gid: id(pax.gid, hdr.gid(), "gid")?,
        mode: hdr.mode().map_err(|x| bad(raw, x))? & 0o7777,
        times: meta::timestamps(mtime, pax.atime.unwrap_or(mtime)),
    };
    let kind = match typeflag {
        b'0' | b'7' | b'S' => Type::File,
        // Pre-POSIX archives mark directories with a trailing slash only.
        0 if raw.ends_with(b"/") => Type::Dir,
        0 => Type::File,
        b'5' => Type::Dir,
        b'2' => Type::Symlink,
        b'1' => Type::Hardlink,
        b'3' => Type::Node(FileType::CharacterDevice),
        b'4' => Type::Node(FileType::BlockDevice),
        b'6' => Type::Node(FileType::Fifo),
        b'g' => Type::GlobalPax,
        t => Type::Unsupported(t),
    };
    let dev = match kind {
        Type::Node(FileType::CharacterDevice | FileType::BlockDevice) => (
            hdr.device_major().map_err(|x| bad(raw, x))?.unwrap_or(0),
            hdr.device_minor().map_err(|x| bad(raw, x))?.unwrap_or(0),
        ),
        _ => (0, 0),
    };
    Ok(Checked {
        kind,
        size,
        meta: m,
        dev,
        xattrs: pax.xattrs,
    })
}

/// The name (or link target) an entry really has: from the PAX record, else the GNU long name, else
/// the header. PAX and GNU disagreeing is refused: tools pick differently between them.
fn truth<'x>(
    pax: Option<&'x [u8]>,
    gnu: Option<&'x [u8]>,
    header: impl FnOnce() -> Cow<'x, [u8]>,
) -> Result<Cow<'x, [u8]>, &'static str> {
    match (pax, gnu) {
        (Some(p), Some(g)) if p != g => {
            Err("ambiguous header: the PAX record and the GNU long name differ")
        }
        (Some(p), _) => Ok(Cow::Borrowed(p)),
        (None, Some(g)) => Ok(Cow::Borrowed(g)),
        (None, None) => Ok(header()),
    }
}

/// GNU long names carry a trailing NUL, which the tar crate drops (just one, as we do).
fn strip_nul(b: &[u8]) -> &[u8] {
    b.strip_suffix(&[0]).unwrap_or(b)
}

pub(crate) fn type_name(t: Type) -> String {
    match t {
        Type::File => "regular file".into(),
        Type::Dir => "directory".into(),
        Type::Symlink => "symlink".into(),
        Type::Hardlink => "hardlink".into(),
        Type::Node(FileType::Fifo) => "fifo".into(),
        Type::Node(_) => "device node".into(),
        Type::GlobalPax => "global PAX header".into(),
        Type::Unsupported(t) if t.is_ascii_graphic() => format!("`{}`", t as char),
        Type::Unsupported(t) => format!("0x{t:02x}"),
    }
}
