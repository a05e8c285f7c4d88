//! Content negotiation as libprocess does it for Mesos's agent (`Request::acceptsMediaType` and
//! `Request::acceptsEncoding` in 3rdparty/libprocess/src/http.cpp): the first entry of the header that names the
//! wanted value (`type/subtype`, then `type/*`, then `*/*` for media types; the coding, then `*` for encodings)
//! decides, and it accepts unless its `q` is 0 or not a number (no `q` accepts). No `Accept` accepts every
//! media type; no or an empty `Accept-Encoding` asks for no coding, so the answer goes as it is.

/// Whether an `Accept` value lets the answer be `media` (`type/subtype`).
pub fn accepts_media(accept: Option<&str>, media: &str) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    let kind = media.split_once('/').map_or(media, |(k, _)| k);
    let candidates = [media.to_string(), format!("{kind}/*"), "*/*".to_string()];
    first_decides(accept, &candidates)
}

/// Whether an `Accept` value names `media` itself (not through a wildcard) with a `q` above 0: a streaming answer
/// is only for a client that asks for its type.
pub fn names_media(accept: Option<&str>, media: &str) -> bool {
    accept.is_some_and(|a| first_decides(a, &[media.to_string()]))
}

/// Whether an `Accept-Encoding` value lets the answer be in `coding` (`gzip`).
pub fn accepts_encoding(accept_encoding: Option<&str>, coding: &str) -> bool {
    match accept_encoding {
        Some(a) if !a.trim().is_empty() => first_decides(a, &[coding.to_string(), "*".to_string()]),
        _ => false,
    }
}

/// The first candidate that some entry of `header` names decides, by that entry's `q`.
fn first_decides(header: &str, candidates: &[String]) -> bool {
    let entries: Vec<(String, Option<&str>)> = header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim().to_ascii_lowercase();
            let q = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "q").then_some(v.trim())
            });
            (!name.is_empty()).then_some((name, q))
        })
        .collect();
    for c in candidates {
        if let Some((_, q)) = entries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(c))
        {
            return match q.map(str::parse::<f64>) {
                None => true,
                // libprocess: a `q` that is not a number does not accept.
                Some(Err(_)) => false,
                Some(Ok(v)) => v > 0.0,
            };
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    #[test]
    fn media_types_by_the_first_entry_that_names_them_and_its_q() {
        assert!(accepts_media(None, JSON), "no Accept: anything");
        for yes in [
            "application/json",
            "Application/JSON",
            "text/html, application/json;q=0.5",
            "application/*",
            "*/*;q=0.1",
            "application/json ; charset=utf-8",
        ] {
            assert!(accepts_media(Some(yes), JSON), "{yes}");
        }
        for no in [
            "application/x-protobuf",
            "application/json;q=0",
            "application/json;q=oops",
            "application/json; q=0.0, */*",
            "*/*;q=0",
            "",
        ] {
            assert!(!accepts_media(Some(no), JSON), "{no}");
        }
    }

    #[test]
    fn a_stream_needs_its_type_named() {
        let recordio = "application/recordio";
        assert!(names_media(Some("application/recordio"), recordio));
        assert!(names_media(
            Some("application/json, application/recordio;q=0.9"),
            recordio
        ));
        assert!(!names_media(None, recordio));
        assert!(!names_media(Some("*/*"), recordio));
        assert!(!names_media(Some("application/recordio;q=0"), recordio));
    }

    #[test]
    fn encodings_as_rfc_2616_and_libprocess() {
        for yes in [
            "gzip",
            "deflate, gzip",
            "GZIP;q=0.5",
            "*",
            "br;q=1, *;q=0.3",
        ] {
            assert!(accepts_encoding(Some(yes), "gzip"), "{yes}");
        }
        for no in [
            "",
            "  ",
            "identity",
            "gzip;q=0",
            "*;q=0",
            "gzip;q=0, *",
            "deflate",
        ] {
            assert!(!accepts_encoding(Some(no), "gzip"), "{no}");
        }
        assert!(!accepts_encoding(None, "gzip"), "no header: no coding");
    }
}
