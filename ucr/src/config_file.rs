//! `--config FILE`: options from a TOML file, for the agent and every command (INTERFACE.md). Its keys are the
//! long option names, either spelling (`docker_store_dir` or `docker-store-dir`); a string or number is the
//! option's value, `true` a flag that is on (`false`: off, nothing passed), an array the values of a
//! repeatable option. A later occurrence of an option overrides an earlier one, so the file's options go before
//! the command line's: the global ones right after the program's name, the command's own right after its name
//! (the first place clap takes them). The command line wins over the file.
//!
//! ```toml
//! root = "/srv/ucr"
//! docker_registry = "/srv/images"
//! isolation = "filesystem/linux,cgroups/all"
//! listen = ["127.0.0.1:5051"]
//! ```

use std::ffi::OsString;
use std::path::PathBuf;

/// What `expand` must know of the command line: which long options take a value (to find the command's name)
/// and which are global (valid before the command's name).
pub struct Options<'a> {
    pub takes_value: &'a dyn Fn(&str) -> bool,
    pub is_global: &'a dyn Fn(&str) -> bool,
}

/// `args` with `--config FILE` replaced by the file's options; unchanged without one.
pub fn expand(args: Vec<OsString>, opts: &Options) -> Result<Vec<OsString>, String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some((at, len, path)) = find(&args[..end]) else {
        return Ok(args);
    };
    let path = path.ok_or("--config: a file name is needed")?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let options = options(&text).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let mut rest = args;
    rest.drain(at..at + len);
    // An option the command line names replaces the file's whole value: for a repeatable one (`--listen`) the
    // command line's list is the list, not an addition to the file's.
    let given: Vec<String> = rest[..end - len]
        .iter()
        .filter_map(|a| a.to_str()?.strip_prefix("--").map(long_name))
        .collect();
    let (global, own): (Vec<_>, Vec<_>) = options
        .into_iter()
        .filter(|(name, _)| !given.contains(name))
        .partition(|(name, _)| (opts.is_global)(name));
    let i = crate::args::command_index(&rest, opts.takes_value);
    let after_command = (i + 1).min(rest.len());
    rest.splice(
        after_command..after_command,
        own.into_iter().map(|(_, a)| OsString::from(a)),
    );
    let after_program = 1.min(rest.len());
    rest.splice(
        after_program..after_program,
        global.into_iter().map(|(_, a)| OsString::from(a)),
    );
    Ok(rest)
}

/// Where `args` name `--config`: its index, how many words it takes (`--config=F` one, `--config F` two) and
/// the file (None: `--config` is the last word).
fn find(args: &[OsString]) -> Option<(usize, usize, Option<PathBuf>)> {
    args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_string_lossy();
        match a.strip_prefix("--config=") {
            Some(v) => Some((i, 1, Some(PathBuf::from(v)))),
            None if a == "--config" => Some((i, 2, args.get(i + 1).map(PathBuf::from))),
            None => None,
        }
    })
}

/// The `--config` file of `args` (the command line, without the program) when the usage error `e` is about an
/// option the command line does not name: one of the file's.
pub fn blamed(e: &clap::Error, args: &[OsString]) -> Option<PathBuf> {
    let (_, _, file) = find(args)?;
    let Some(clap::error::ContextValue::String(arg)) = e.get(clap::error::ContextKind::InvalidArg)
    else {
        return None;
    };
    let name = long_name(arg.split(' ').next()?.strip_prefix("--")?);
    let named = args
        .iter()
        .filter_map(|a| a.to_str()?.strip_prefix("--"))
        .any(|a| long_name(a) == name);
    if named {
        return None;
    }
    file
}

/// `docker_store_dir=x` and `docker-store-dir` are both `docker-store-dir`.
fn long_name(option: &str) -> String {
    option.split('=').next().unwrap_or(option).replace('_', "-")
}

/// The file's keys as command-line options, each with its long name (sorted by key).
fn options(text: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        e.message().lines().next().unwrap_or("not TOML").to_string()
    })?;
    let mut out = Vec::new();
    for (key, value) in table {
        let name = long_name(&key);
        let opt = format!("--{name}");
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
            toml::Value::Boolean(true) => out.push((name, opt)),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for v in items {
                    out.push((name.clone(), format!("{opt}={}", scalar(v)?)));
                }
            }
            v => out.push((name, format!("{opt}={}", scalar(v)?))),
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

    #[test]
    fn a_usage_error_about_an_option_the_command_line_does_not_name_blames_the_file() {
        let parsed =
            crate::args::parse::<crate::args::Cli>(os(&["ucr", "run", "--bogus_key", "1", "i"]));
        let Err(e) = parsed else { panic!("parsed") };
        let file = Some(PathBuf::from("/f.toml"));
        assert_eq!(blamed(&e, &os(&["--config", "/f.toml", "run", "i"])), file);
        assert_eq!(blamed(&e, &os(&["run", "--config=/f.toml", "i"])), file);
        assert_eq!(
            blamed(
                &e,
                &os(&["--config", "/f.toml", "run", "--bogus-key", "1", "i"])
            ),
            None
        );
        assert_eq!(blamed(&e, &os(&["run", "--bogus-key", "1", "i"])), None);
    }

    fn takes_value(name: &str) -> bool {
        ["root", "runtime-dir", "config", "docker-store-dir"].contains(&name)
    }

    fn is_global(name: &str) -> bool {
        ["root", "runtime-dir", "docker-store-dir"].contains(&name)
    }

    const OPTS: Options = Options {
        takes_value: &takes_value,
        is_global: &is_global,
    };

    #[test]
    fn file_options_go_before_the_command_lines_own() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("ucr.toml");
        std::fs::write(
            &f,
            "docker_store_dir = \"/s\"\nroot = \"/f\"\nprivileged = true\nrm = false\nlisten = [\"a:1\", \"b:2\"]\ncpus = 0.5\nnetwork = \"host\"\n",
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
            "--listen=c:3",
            "img",
            "--",
            "--network",
        ]);
        let out = expand(args, &OPTS).expect("expand");
        let out: Vec<String> = out
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out,
            [
                "ucr",
                "--docker-store-dir=/s",
                "--root",
                "/r",
                "run",
                "--cpus=0.5",
                "--network=host",
                "--privileged",
                "--name",
                "x",
                "--listen=c:3",
                "img",
                "--",
                "--network",
            ]
        );
        let none = os(&["ucr", "ps"]);
        assert_eq!(expand(none.clone(), &OPTS).expect("same"), none);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("bad.toml");
        std::fs::write(&f, "[table]\nx = 1\n").expect("write");
        let e = expand(
            os(&["ucr", "--config", f.to_str().expect("utf-8"), "ps"]),
            &OPTS,
        )
        .expect_err("a table is no option");
        assert!(e.contains("bad.toml") && e.contains("table"), "{e}");
        let e =
            expand(os(&["ucr", "--config", "/no/such.toml", "ps"]), &OPTS).expect_err("missing");
        assert!(e.starts_with("--config /no/such.toml: "), "{e}");
        std::fs::write(&f, "root = \n").expect("write");
        assert!(expand(os(&["ucr", "--config", f.to_str().expect("utf-8")]), &OPTS).is_err());
    }
}
