//! `--config FILE`: options from a TOML file, for the agent and every command (INTERFACE.md). Its keys are the
//! long option names, either spelling (`docker_store_dir` or `docker-store-dir`); a string or number is the
//! option's value, `true` a flag that is on (`false`: off, nothing passed), an array the values of a
//! repeatable option. They are put right after the command's name, before the command line's own options, and a
//! later occurrence of an option overrides an earlier one: the command line wins over the file.
//!
//! ```toml
//! root = "/srv/ucr"
//! docker_registry = "/srv/images"
//! isolation = "filesystem/linux,cgroups/all"
//! listen = ["127.0.0.1:5051"]
//! ```

use std::ffi::OsString;
use std::path::PathBuf;

/// `args` with `--config FILE` replaced by the file's options; unchanged without one.
pub fn expand(
    args: Vec<OsString>,
    takes_value: &dyn Fn(&str) -> bool,
) -> Result<Vec<OsString>, String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut file: Option<(usize, usize, PathBuf)> = None;
    for (i, a) in args[..end].iter().enumerate() {
        let a = a.to_string_lossy();
        if let Some(v) = a.strip_prefix("--config=") {
            file = Some((i, 1, PathBuf::from(v)));
            break;
        }
        if a == "--config" {
            let v = args.get(i + 1).ok_or("--config: a file name is needed")?;
            file = Some((i, 2, PathBuf::from(v)));
            break;
        }
    }
    let Some((at, len, path)) = file else {
        return Ok(args);
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let options = options(&text).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let mut rest = args;
    rest.drain(at..at + len);
    // After the command's name (the first word that is neither an option nor an option's value), where clap
    // takes every option, global or the command's own.
    let mut i = 1;
    while i < rest.len() {
        let a = rest[i].to_string_lossy().into_owned();
        match a.strip_prefix("--") {
            Some(name) if !name.contains('=') && takes_value(name) => i += 2,
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let at = (i + 1).min(rest.len());
    rest.splice(at..at, options.into_iter().map(OsString::from));
    Ok(rest)
}

/// The file's keys as command-line options (sorted by key; each key is one option).
fn options(text: &str) -> Result<Vec<String>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        e.message().lines().next().unwrap_or("not TOML").to_string()
    })?;
    let mut out = Vec::new();
    for (key, value) in table {
        let opt = format!("--{}", key.replace('_', "-"));
        let scalar = |v: &toml::Value| -> Result<String, String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                other => Err(format!(
                    "{key}: expected a string, a number, true/false or a list of those, not {}",
                    other.type_str()
                )),
            }
        };
        match &value {
            toml::Value::Boolean(true) => out.push(opt),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for v in items {
                    out.push(format!("{opt}={}", scalar(v)?));
                }
            }
            v => out.push(format!("{opt}={}", scalar(v)?)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn takes_value(name: &str) -> bool {
        ["root", "runtime-dir", "config"].contains(&name)
    }

    #[test]
    fn file_options_go_after_the_command_and_before_the_command_line() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("ucr.toml");
        std::fs::write(
            &f,
            "docker_store_dir = \"/s\"\nprivileged = true\nrm = false\nlisten = [\"a:1\", \"b:2\"]\ncpus = 0.5\n",
        )
        .expect("write");
        let args = os(&[
            "ucr",
            "--root",
            "/r",
            "--config",
            f.to_str().expect("utf-8"),
            "run",
            "--name",
            "x",
            "img",
        ]);
        let out = expand(args, &takes_value).expect("expand");
        let out: Vec<String> = out
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out,
            [
                "ucr",
                "--root",
                "/r",
                "run",
                "--cpus=0.5",
                "--docker-store-dir=/s",
                "--listen=a:1",
                "--listen=b:2",
                "--privileged",
                "--name",
                "x",
                "img"
            ]
        );
        let none = os(&["ucr", "ps"]);
        assert_eq!(expand(none.clone(), &takes_value).expect("same"), none);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("bad.toml");
        std::fs::write(&f, "[table]\nx = 1\n").expect("write");
        let e = expand(
            os(&["ucr", "--config", f.to_str().expect("utf-8"), "ps"]),
            &takes_value,
        )
        .expect_err("a table is no option");
        assert!(e.contains("bad.toml") && e.contains("table"), "{e}");
        let e = expand(
            os(&["ucr", "--config", "/no/such.toml", "ps"]),
            &takes_value,
        )
        .expect_err("missing");
        assert!(e.starts_with("--config /no/such.toml: "), "{e}");
        std::fs::write(&f, "root = \n").expect("write");
        assert!(expand(
            os(&["ucr", "--config", f.to_str().expect("utf-8")]),
            &takes_value
        )
        .is_err());
    }
}
