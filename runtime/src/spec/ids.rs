//! Container ids, the one id derivation that is not the identity (Marathon app ids), and the hostname a request
//! may give its container.
//!
//! An id becomes a directory name (`<root>/containers/<id>`), a cgroup name and a log field, hence the rules.
//! They are the MESOS-SEMANTICS.md rules; note Mesos itself also refuses `.` anywhere and `\`, ucr does not
//! (Marathon-derived ids keep their dots).

use super::error::{Result, SpecError};

/// Longest id accepted, in bytes (Mesos `MAX_CONTAINER_ID_LENGTH`; a file name may be 255 bytes and ucr appends
/// suffixes to some).
pub const MAX_ID_LEN: usize = 242;

/// Checks a container id: non-empty, at most [`MAX_ID_LEN`] bytes, no `/`, not `.` or `..`, no whitespace and no
/// control characters.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |rule| {
        Err(SpecError::InvalidId {
            id: id.to_string(),
            rule,
        })
    };
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("must be at most 242 bytes long");
    }
    if id == "." || id == ".." {
        return bad("must not be \".\" or \"..\"");
    }
    if id.contains('/') {
        return bad("must not contain '/'");
    }
    // Whitespace of any kind, not just ' ': ids are shown in columns and used unquoted in paths.
    if id.chars().any(char::is_whitespace) {
        return bad("must not contain spaces");
    }
    if id.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// The kernel's longest hostname (`__NEW_UTS_LEN`).
pub const MAX_HOSTNAME_LEN: usize = 64;

/// Checks a requested hostname before anything is made, rather than the container's init failing on it: what
/// sethostname(2) takes (1 to [`MAX_HOSTNAME_LEN`] bytes), with no whitespace or control characters.
pub fn validate_hostname(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_HOSTNAME_LEN {
        "must be at most 64 bytes long (the kernel's limit)"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "must not contain spaces or control characters"
    } else {
        return Ok(());
    };
    Err(SpecError::field("hostname", format!("{name:?} {why}")))
}

/// The container id of a Marathon app: the app id made absolute (`.` and `..` resolved against the root group,
/// as Marathon's `canonicalPath`), its segments joined with `_` — Marathon's own `safePath`, the prefix of its
/// task ids. `/group/app` → `group_app`, `basic-3` → `basic-3`. `_` cannot occur in a Marathon id segment, so
/// the mapping is one-to-one. Each segment must follow Marathon's rule (lowercase letters, digits, `-`, `.`, not
/// starting or ending with `-`), as Marathon would refuse the app otherwise.
///
/// Returns `(container id, canonical app id)`; the latter is `MARATHON_APP_ID`.
pub fn marathon_container_id(app_id: &str) -> Result<(String, String)> {
    let mut segments: Vec<&str> = Vec::new();
    for seg in app_id.split('/').filter(|s| !s.is_empty()) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => {
                if !valid_marathon_segment(s) {
                    return Err(SpecError::field(
                        "id",
                        format!(
                            "{app_id:?}: segment {s:?} is not a valid Marathon id segment (lowercase letters, \
                             digits, '-' and '.', not starting or ending with '-')"
                        ),
                    ));
                }
                segments.push(s);
            }
        }
    }
    if segments.is_empty() {
        return Err(SpecError::field(
            "id",
            format!("{app_id:?} names the root group, not an app"),
        ));
    }
    let container_id = segments.join("_");
    validate_id(&container_id).map_err(|e| SpecError::field("id", e.to_string()))?;
    Ok((container_id, format!("/{}", segments.join("/"))))
}

/// Marathon: `(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])`.
fn valid_marathon_segment(seg: &str) -> bool {
    seg.split('.').all(|label| {
        let b = label.as_bytes();
        let inner_ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
        let end_ok =
            |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        end_ok(b.first()) && end_ok(b.last()) && b.iter().all(inner_ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_what_the_kernel_takes() {
        assert!(validate_hostname("web-1.example").is_ok());
        assert!(validate_hostname(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "tab\t", &"a".repeat(65)] {
            let e = validate_hostname(bad).expect_err(bad);
            assert!(e.to_string().starts_with("hostname: "), "{e}");
        }
    }

    fn rule(id: &str) -> String {
        match validate_id(id) {
            Err(e) => e.to_string(),
            Ok(()) => String::from("ok"),
        }
    }

    #[test]
    fn ids() {
        assert_eq!(rule("c1"), "ok");
        assert_eq!(rule("my.app-1_x"), "ok");
        assert_eq!(rule(&"a".repeat(242)), "ok");
        assert!(rule("").contains("must not be empty"));
        assert!(rule(&"a".repeat(243)).contains("at most 242"));
        assert!(rule(".").contains("\".\""));
        assert!(rule("..").contains("\"..\""));
        assert!(rule("a/b").contains("'/'"));
        assert!(rule("a b").contains("spaces"));
        assert!(rule("a\tb").contains("spaces"));
        assert!(rule("a\u{1}b").contains("control"));
        assert!(rule("a\u{7f}").contains("control"));
        // The error names the id.
        assert!(rule("a b").contains("\"a b\""));
    }

    #[test]
    fn marathon_ids() {
        let id = |s: &str| marathon_container_id(s).map_err(|e| e.to_string());
        assert_eq!(
            id("/group/app"),
            Ok(("group_app".into(), "/group/app".into()))
        );
        assert_eq!(id("basic-3"), Ok(("basic-3".into(), "/basic-3".into())));
        assert_eq!(id("/a/./b/../c.d"), Ok(("a_c.d".into(), "/a/c.d".into())));
        assert!(id("/Group/app")
            .expect_err("must fail")
            .contains("\"Group\""));
        assert!(id("/-a").is_err());
        assert!(id("/a_b").is_err());
        assert!(id("/").expect_err("must fail").contains("root group"));
        assert!(id("/..").is_err());
    }
}
