//! The `<meta>` tags of an AppC discovery page (appc `spec/discovery.md`): `ac-discovery` (a name prefix and a
//! URL template) and `ac-discovery-pubkeys` (a prefix and a key URL), read with a WHATWG tokenizer
//! (`html5gum`), so attribute order, quoting and character references are read as a browser reads them.

/// One tag: its kind, the name prefix it applies to, and its template or URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub pubkeys: bool,
    pub prefix: String,
    pub value: String,
}

/// At most this many tags are read from a page (a hostile page could hold millions).
const MAX_TAGS: usize = 256;

pub fn tags(page: &[u8]) -> Vec<Tag> {
    let mut out = Vec::new();
    for token in html5gum::Tokenizer::new(page).flatten() {
        let html5gum::Token::StartTag(tag) = token else {
            continue;
        };
        if !tag.name.eq_ignore_ascii_case(b"meta") {
            continue;
        }
        let attr = |k: &[u8]| {
            tag.attributes
                .get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let pubkeys = match attr(b"name").as_deref() {
            Some("ac-discovery") => false,
            Some("ac-discovery-pubkeys") => true,
            _ => continue,
        };
        let Some(content) = attr(b"content") else {
            continue;
        };
        let mut parts = content.split_whitespace();
        if let (Some(prefix), Some(value), None) = (parts.next(), parts.next(), parts.next()) {
            out.push(Tag {
                pubkeys,
                prefix: prefix.to_string(),
                value: value.to_string(),
            });
        }
        if out.len() >= MAX_TAGS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_any_spelling() {
        let page = br#"<!DOCTYPE html><html><head>
            <meta name="go-import" content="a git b">
            <META content='example.com https://example.com/{name}-{version}.{ext}?a=1&amp;b=2' NAME=ac-discovery>
            <meta name=ac-discovery content="example.com/x   http://x/{name}.{ext}">
            <meta name="ac-discovery-pubkeys" content="example.com https://example.com/pubkeys.gpg">
            <meta name="ac-discovery" content="only-one-field">
            </head></html>"#;
        let t = tags(page);
        assert_eq!(t.len(), 3, "{t:?}");
        assert_eq!(
            t[0].value,
            "https://example.com/{name}-{version}.{ext}?a=1&b=2"
        );
        assert_eq!(
            (t[1].prefix.as_str(), t[1].pubkeys),
            ("example.com/x", false)
        );
        assert!(t[2].pubkeys);
        assert!(tags(b"\xff\xfe<meta").is_empty());
    }
}
