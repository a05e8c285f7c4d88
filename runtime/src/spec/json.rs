//! Reading a request's JSON into the mirror types (`mesos/`, `marathon/`) so that an error names the JSON path
//! it happened at (`launch_container.container.volumes[1].mode`), in words made for JSON users.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{Result, SpecError};

/// Whether fields the mirror types do not know are an error (`ucr launch`: a typo should say so) or skipped
/// (the agent API: Mesos's JSON reader ignores unknown keys, and clients send newer fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    Refuse,
    Ignore,
}

/// [`from_str_with_path`], or with `Unknown::Ignore` every unknown key removed (its JSON path returned) until the
/// document reads. Anything else wrong is still an error naming its path.
pub(crate) fn from_str_with<T>(text: &str, unknown: Unknown) -> Result<(T, Vec<String>)>
where
    T: DeserializeOwned,
{
    if unknown == Unknown::Refuse {
        return Ok((from_str_with_path(text)?, Vec::new()));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    from_value_skipping_unknown(value)
}

/// Reads `value` into `T`, removing every key `T` does not know (a struct with `deny_unknown_fields` says which)
/// until it reads; returns the JSON paths removed, in the order they were met. Anything else wrong is an error
/// naming its path. When a required field is then missing and an unknown sibling is a near miss of it
/// (`imag` for `image`), the error says so: skipping the typo is what made the field missing.
pub(crate) fn from_value_skipping_unknown<T>(mut value: Value) -> Result<(T, Vec<String>)>
where
    T: DeserializeOwned,
{
    let mut ignored = Vec::new();
    loop {
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return Ok((t, ignored)),
            Err(e) => {
                let path: Vec<serde_path_to_error::Segment> = e.path().iter().cloned().collect();
                let shown = shown_path(&e.path().to_string());
                let msg = e.into_inner().to_string();
                let unknown_field = msg.starts_with("unknown field");
                if !unknown_field || ignored.len() >= 1000 || !remove(&mut value, &path) {
                    let why = tidy(&msg);
                    let why = match typo_hint(&msg, &shown, &ignored) {
                        Some(hint) => format!("{why} ({hint})"),
                        None => why,
                    };
                    return Err(SpecError::field(shown, why));
                }
                ignored.push(shown);
            }
        }
    }
}

/// serde_path_to_error writes the document itself as `.`.
fn shown_path(path: &str) -> String {
    if path == "." {
        "(top level)".to_string()
    } else {
        path.to_string()
    }
}

/// For `missing field `x`` at `at`: the skipped unknown sibling of `x` that looks like a typo of it, said as a
/// hint.
fn typo_hint(msg: &str, at: &str, ignored: &[String]) -> Option<String> {
    let missing = msg.strip_prefix("missing field `")?.split('`').next()?;
    let parent = if at == "(top level)" { "" } else { at };
    ignored.iter().find_map(|p| {
        let (dir, key) = p.rsplit_once('.').unwrap_or(("", p.as_str()));
        (dir == parent && edit_distance(key, missing) <= 2)
            .then(|| format!("the unknown field {p} was ignored: a typo of \"{missing}\"?"))
    })
}

/// Removes the key at `path` (the last segment names it); false if the path does not lead to one.
fn remove(value: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for seg in parents {
        v = match (seg, v) {
            (Segment::Map { key }, Value::Object(o)) => match o.get_mut(key) {
                Some(x) => x,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(a)) => match a.get_mut(*index) {
                Some(x) => x,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, v) {
        (Segment::Map { key }, Value::Object(o)) => o.remove(key).is_some(),
        _ => false,
    }
}

/// Deserializes `text` into a mirror type; an error names the JSON path it happened at.
pub(crate) fn from_str_with_path<T: DeserializeOwned>(text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = shown_path(&e.path().to_string());
        SpecError::field(path, tidy(&e.into_inner().to_string()))
    })?;
    Ok(value)
}

/// serde's message made for JSON users: double quotes instead of backticks, and for an unknown field the
/// closest known one ("did you mean") instead of a list of every field, which for a Marathon app is 50 long.
fn tidy(msg: &str) -> String {
    let msg = msg.replace('`', "\"");
    let parsed = msg.strip_prefix("unknown field \"").and_then(|rest| {
        let (field, after) = rest.split_once('"')?;
        let list = after.strip_prefix(", expected one of ")?;
        let (list, position) = match list.rsplit_once(" at line ") {
            Some((l, pos)) => (l, format!(" at line {pos}")),
            None => (list, String::new()),
        };
        let fields: Vec<&str> = list.split(", ").map(|f| f.trim_matches('"')).collect();
        Some((field.to_string(), fields, position))
    });
    let Some((field, fields, position)) = parsed else {
        return msg;
    };
    let closest = fields.iter().map(|f| (edit_distance(&field, f), *f)).min();
    match closest {
        Some((d, f)) if d <= 2 && d < field.len() => {
            format!("unknown field \"{field}\", did you mean \"{f}\"?{position}")
        }
        _ if fields.len() <= 12 => msg,
        _ => format!("unknown field \"{field}\"{position}"),
    }
}

/// Levenshtein distance, case-insensitive (`Image` is a typo of `image`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_messages() {
        let many = "unknown field `imag`, expected one of `credential`, `pullConfig`, `image` at line 1 column 5";
        assert_eq!(
            tidy(many),
            "unknown field \"imag\", did you mean \"image\"? at line 1 column 5"
        );
        let few = "unknown field `zzz`, expected one of `a`, `b`";
        assert_eq!(
            tidy(few),
            "unknown field \"zzz\", expected one of \"a\", \"b\""
        );
        let list: Vec<String> = (0..20).map(|i| format!("`field{i}`")).collect();
        let long = format!("unknown field `zzz`, expected one of {}", list.join(", "));
        assert_eq!(tidy(&long), "unknown field \"zzz\"");
        assert_eq!(tidy("missing field `name`"), "missing field \"name\"");
        assert_eq!(edit_distance("shel", "shell"), 1);
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u8,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[test]
    fn unknown_keys_are_refused_or_skipped_by_path() {
        let text = r#"{"inner":[{"a":1},{"a":2,"newer":true}],"extra":{"x":1}}"#;
        let e = from_str_with::<Outer>(text, Unknown::Refuse).expect_err("strict");
        assert!(
            e.to_string().starts_with("inner[1].newer: unknown field"),
            "{e}"
        );
        let (v, ignored) = from_str_with::<Outer>(text, Unknown::Ignore).expect("lenient");
        assert_eq!(
            v,
            Outer {
                inner: vec![Inner { a: 1 }, Inner { a: 2 }]
            }
        );
        assert_eq!(ignored, ["extra", "inner[1].newer"]);
        let e =
            from_str_with::<Outer>(r#"{"inner":[{"a":"x"}]}"#, Unknown::Ignore).expect_err("type");
        assert!(e.to_string().starts_with("inner[0].a: "), "{e}");
    }
}
