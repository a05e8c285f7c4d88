//! Entry names: lexical normalization relative to the layer root, and the OCI whiteout naming scheme.

/// Prefix of a whiteout entry's base name.
pub(crate) const WH_PREFIX: &[u8] = b".wh.";
/// Base name marking its directory opaque.
pub(crate) const WH_OPAQUE: &[u8] = b".wh..wh..opq";
/// Prefix of AUFS bookkeeping entries (`.wh..wh.plnk`, `.wh..wh.aufs`) which are never materialized.
const WH_META_PREFIX: &[u8] = b".wh..wh.";

/// Writes the normalized form of `raw` into `out`: components joined by `/`, no leading `/`, no `.`,
/// `..` resolved lexically and clamped at the root (what docker and containerd do, so `../../etc/x`
/// becomes `etc/x`). An empty result is the root itself.
pub(crate) fn normalize(raw: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.clear();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                let keep = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(keep);
            }
            c => {
                if c.contains(&0) {
                    return Err("the name contains a NUL byte");
                }
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(())
}

/// Splits a normalized non-root path into (parent, base name); the parent of a top-level name is `""`.
pub(crate) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// What an entry's name says it is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// An ordinary entry.
    Plain,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// `.wh.<name>`: `<name>` in the parent directory is deleted.
    Whiteout(&'a [u8]),
    /// AUFS bookkeeping: a top-level `.wh..wh.*` entry other than the opaque marker, or anything
    /// under one (`.wh..wh.plnk/…`). Skipped, as docker does.
    AufsMeta,
}

/// Classifies a normalized, non-root path.
pub(crate) fn classify(path: &[u8]) -> Result<Kind<'_>, &'static str> {
    let first = path.split(|&b| b == b'/').next().unwrap_or(path);
    if first.starts_with(WH_META_PREFIX) && path != WH_OPAQUE {
        return Ok(Kind::AufsMeta);
    }
    let base = split(path).1;
    if !base.starts_with(WH_PREFIX) {
        return Ok(Kind::Plain);
    }
    if base == WH_OPAQUE {
        return Ok(Kind::Opaque);
    }
    if base.starts_with(WH_META_PREFIX) {
        return Ok(Kind::AufsMeta);
    }
    match &base[WH_PREFIX.len()..] {
        b"" | b"." | b".." => {
            Err("a whiteout must name an entry (`.wh.`, `.wh..` and `.wh...` name none)")
        }
        name => Ok(Kind::Whiteout(name)),
    }
}

/// Depth of a normalized path (the root is 0), used to restore directory times deepest first.
pub(crate) fn depth(path: &[u8]) -> usize {
    if path.is_empty() {
        0
    } else {
        1 + path.iter().filter(|&&b| b == b'/').count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut out = Vec::new();
        normalize(s.as_bytes(), &mut out).expect("normalizes");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn normalizes_and_clamps() {
        assert_eq!(norm("./etc/passwd"), "etc/passwd");
        assert_eq!(norm("/etc//passwd/"), "etc/passwd");
        assert_eq!(norm("../../etc/x"), "etc/x");
        assert_eq!(norm("a/b/../../../c"), "c");
        assert_eq!(norm("a/./b/.."), "a");
        assert_eq!(norm("."), "");
        assert_eq!(norm("./"), "");
        assert_eq!(norm("/"), "");
        assert_eq!(norm(".."), "");
        assert_eq!(norm("..."), "...");
        assert!(normalize(b"a\0b", &mut Vec::new()).is_err());
    }

    #[test]
    fn splits_and_classifies() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(classify(b"a/x").expect("ok"), Kind::Plain);
        assert_eq!(classify(b".wh..wh..opq").expect("ok"), Kind::Opaque);
        assert_eq!(classify(b"a/.wh..wh..opq").expect("ok"), Kind::Opaque);
        assert_eq!(classify(b".wh..wh.plnk").expect("ok"), Kind::AufsMeta);
        assert_eq!(
            classify(b".wh..wh.plnk/123.45").expect("ok"),
            Kind::AufsMeta
        );
        assert_eq!(classify(b"a/.wh..wh.aufs").expect("ok"), Kind::AufsMeta);
        assert_eq!(classify(b"a/.wh.foo").expect("ok"), Kind::Whiteout(b"foo"));
        assert!(classify(b"a/.wh.").is_err());
        assert!(classify(b".wh...").is_err());
        assert_eq!(depth(b""), 0);
        assert_eq!(depth(b"a/b"), 2);
    }
}
