//! Reading an entry's extension headers ourselves, from the bytes the meter captured.
//!
//! Why: the tar crate (0.4.46) splits PAX data on `\n` instead of using the record lengths, so a binary
//! value holding a newline (a `security.capability` or ACL xattr can) breaks its reading of every later
//! record, and a crafted value can even smuggle a fake `path`, `size` or `uid` record that only the tar
//! crate sees. We read the records correctly (length-prefixed, last one wins, as Go's archive/tar and so
//! docker do), take metadata from our own reading, and refuse an entry whenever the tar crate's idea of
//! its name, link target or size differs from ours — so the layer's framing and names can never be
//! ambiguous between us and the tools that built or scanned it.

use std::ops::Range;

const BLOCK: u64 = 512;

/// Where, in the captured bytes, the pieces describing one entry are.
#[derive(Debug, Default)]
pub(crate) struct Located {
    pub header: Range<usize>,
    pub pax: Option<Range<usize>>,
    pub long_name: Option<Range<usize>>,
    pub long_link: Option<Range<usize>>,
}

/// Walks the headers between the capture start (just after the previous entry's data) and the entry's
/// own header at `header_pos`: each is a GNU long name (`L`), long link (`K`) or PAX (`x`) header whose
/// data the tar crate consumed on its way to the entry.
pub(crate) fn locate(capture: &[u8], start: u64, header_pos: u64) -> Result<Located, &'static str> {
    const LOST: &str = "cannot line up the entry's extension headers";
    let mut loc = Located::default();
    let off = |pos: u64| usize::try_from(pos - start).map_err(|_| LOST);
    let mut pos = start.div_ceil(BLOCK) * BLOCK;
    while pos < header_pos {
        let h = header_at(capture, off(pos)?).ok_or(LOST)?;
        let size = h
            .entry_size()
            .map_err(|_| "bad size in an extension header")?;
        let data = off(pos + BLOCK)?..off(pos + BLOCK)?.checked_add(size as usize).ok_or(LOST)?;
        if data.end > capture.len() {
            return Err(LOST);
        }
        match h.entry_type().as_byte() {
            b'x' => loc.pax = Some(data),
            b'L' => loc.long_name = Some(data),
            b'K' => loc.long_link = Some(data),
            _ => return Err(LOST),
        }
        pos = pos
            .checked_add(BLOCK + size.div_ceil(BLOCK) * BLOCK)
            .ok_or(LOST)?;
    }
    if pos != header_pos {
        return Err(LOST);
    }
    let h = off(header_pos)?;
    header_at(capture, h).ok_or(LOST)?;
    loc.header = h..h + BLOCK as usize;
    Ok(loc)
}

fn header_at(capture: &[u8], off: usize) -> Option<&tar::Header> {
    let block: &[u8; 512] = capture.get(off..off.checked_add(512)?)?.try_into().ok()?;
    Some(tar::Header::from_byte_slice(block))
}

/// A timestamp from a header or a PAX record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    pub secs: i64,
    pub nanos: u32,
}

/// The PAX records of one entry that matter here.
#[derive(Debug, Default)]
pub(crate) struct Pax<'a> {
    pub path: Option<&'a [u8]>,
    pub linkpath: Option<&'a [u8]>,
    pub size: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub mtime: Option<Time>,
    pub atime: Option<Time>,
    /// A `GNU.sparse.*` record: PAX-format sparse files, which the tar crate does not expand.
    pub gnu_sparse: bool,
    /// `SCHILY.xattr.<name>` records as (name, value), in order.
    pub xattrs: Vec<(&'a [u8], &'a [u8])>,
}

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl<'a> Pax<'a> {
    /// Parses `data` as a sequence of `"<len> <key>=<value>\n"` records. A later record overrides an
    /// earlier one with the same key.
    pub(crate) fn parse(mut data: &'a [u8]) -> Result<Pax<'a>, String> {
        let mut pax = Pax::default();
        while !data.is_empty() {
            let (key, value, rest) = record(data)?;
            data = rest;
            match key {
                b"path" => pax.path = Some(value),
                b"linkpath" => pax.linkpath = Some(value),
                b"size" => pax.size = Some(number(key, value)?),
                b"uid" => pax.uid = Some(number(key, value)?),
                b"gid" => pax.gid = Some(number(key, value)?),
                b"mtime" => pax.mtime = Some(time(value).ok_or_else(|| bad_value(key, value))?),
                b"atime" => pax.atime = Some(time(value).ok_or_else(|| bad_value(key, value))?),
                k if k.starts_with(b"GNU.sparse.") => pax.gnu_sparse = true,
                k if k.starts_with(XATTR_PREFIX) => {
                    let name = &k[XATTR_PREFIX.len()..];
                    if name.is_empty() || name.contains(&0) {
                        return Err(format!("bad xattr name in PAX record `{}`", show(k)));
                    }
                    // Duplicates are kept: set in order, the last one wins. (Removing them here would
                    // be quadratic in a hostile header's record count.)
                    pax.xattrs.push((name, value));
                }
                _ => {}
            }
        }
        Ok(pax)
    }
}

/// A record's key and value, and the data after it.
type Record<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits the first record off `data`.
fn record(data: &[u8]) -> Result<Record<'_>, String> {
    let malformed = || "malformed PAX record".to_string();
    let sp = data
        .iter()
        .take(20)
        .position(|&b| b == b' ')
        .ok_or_else(malformed)?;
    let len: usize = std::str::from_utf8(&data[..sp])
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
        return Err(malformed());
    }
    let body = &data[sp + 1..len - 1];
    let eq = body.iter().position(|&b| b == b'=').ok_or_else(malformed)?;
    if eq == 0 {
        return Err(malformed());
    }
    Ok((&body[..eq], &body[eq + 1..], &data[len..]))
}

fn number(key: &[u8], value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_value(key, value))
}

/// `[-]SECONDS[.FRACTION]`, as written by GNU tar, bsdtar and Go.
fn time(value: &[u8]) -> Option<Time> {
    let s = std::str::from_utf8(value).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + d;
    }
    if !neg {
        return Some(Time { secs, nanos });
    }
    // -1.25 s is 1.75 s after -3 s... i.e. secs = -2, nanos = 0.75e9.
    if nanos == 0 {
        Some(Time {
            secs: secs.checked_neg()?,
            nanos: 0,
        })
    } else {
        Some(Time {
            secs: secs.checked_neg()?.checked_sub(1)?,
            nanos: 1_000_000_000 - nanos,
        })
    }
}

fn bad_value(key: &[u8], value: &[u8]) -> String {
    format!("bad PAX record `{}={}`", show(key), show(value))
}

fn show(b: &[u8]) -> String {
    super::error::show(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(k: &[u8], v: &[u8]) -> Vec<u8> {
        let body = k.len() + v.len() + 3;
        let mut len = body + 1;
        while format!("{len}").len() + body != len {
            len += 1;
        }
        let mut r = format!("{len} ").into_bytes();
        r.extend_from_slice(k);
        r.push(b'=');
        r.extend_from_slice(v);
        r.push(b'\n');
        assert_eq!(r.len(), len);
        r
    }

    #[test]
    fn records_with_newlines_in_values() {
        let mut data = rec(b"SCHILY.xattr.user.a", b"x\n9 uid=0\n");
        data.extend(rec(b"path", b"abc"));
        let pax = Pax::parse(&data).expect("parses");
        assert_eq!(pax.xattrs, vec![(&b"user.a"[..], &b"x\n9 uid=0\n"[..])]);
        assert_eq!(pax.uid, None);
        assert_eq!(pax.path, Some(&b"abc"[..]));
        assert!(Pax::parse(b"5 a=b\n").is_err());
        assert!(Pax::parse(b"99 a=b\n").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(
            time(b"12.5"),
            Some(Time {
                secs: 12,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            time(b"-1.25"),
            Some(Time {
                secs: -2,
                nanos: 750_000_000
            })
        );
        assert_eq!(time(b"7"), Some(Time { secs: 7, nanos: 0 }));
        assert_eq!(
            time(b"1.1234567891"),
            Some(Time {
                secs: 1,
                nanos: 123_456_789
            })
        );
        assert_eq!(time(b"x"), None);
        assert_eq!(time(b""), None);
    }
}
