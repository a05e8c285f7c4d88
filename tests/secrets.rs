//! `--secrets-dir`: a local secret store. A Marathon app's env secret and secret volume resolve from it (a DC/OS
//! store path included); the task sees the value in its environment and as a file only it can read; the value
//! is in no file ucr writes and in no output, and the secret file is gone once the task has ended.

use serde_json::json;

use crate::common::{files_containing, Containers, CMD_TIMEOUT};

const SECRET: &str = "pw-9f3c-from-the-store";

#[test]
fn env_secrets_and_secret_volumes_resolve_from_the_secrets_dir() {
    let c = Containers::new();
    let store = c.dir.path().join("secrets");
    std::fs::create_dir_all(store.join("db")).expect("store");
    std::fs::write(store.join("db/password"), SECRET).expect("secret");
    let id = c.id("secrets");
    let app = json!({
        "id": id,
        "cmd": "test \"$DB_PASSWORD\" = \"$(cat creds/pw)\" && echo same; stat -c '%a %U' creds/pw; \
                test -r creds/pw && echo readable",
        "user": "nobody",
        "env": {"DB_PASSWORD": {"secret": "pw"}},
        "secrets": {"pw": {"source": "/db/password"}},
        "container": {"type": "MESOS", "volumes": [{"containerPath": "creds/pw", "secret": "pw"}]}
    });
    let store_arg = store.to_string_lossy().into_owned();
    let out = c.run_stdin(
        &["--secrets-dir", &store_arg, "launch", "-"],
        &app.to_string(),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, "same\n400 nobody\nreadable\n", "{}", out.all());
    assert!(!out.all().contains(SECRET));
    let shown = c.run_for(&["inspect", &id], CMD_TIMEOUT).ok();
    assert!(!shown.all().contains(SECRET));
    for dir in [c.root(), c.runtime_dir()] {
        let leaked = files_containing(&dir, SECRET);
        assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    }
    // A source outside the store is refused by name, its value never read.
    let escape = json!({
        "id": c.id("escape"), "cmd": "true",
        "env": {"X": {"secret": "s"}}, "secrets": {"s": {"source": "../outside"}}
    });
    let out = c.run_stdin(
        &["--secrets-dir", &store_arg, "launch", "--dry-run", "-"],
        &escape.to_string(),
    );
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr
            .contains("not a path inside the secrets directory"),
        "{}",
        out.stderr
    );
}

/// Mesos REFERENCE secrets (`{type: REFERENCE, reference: {name, key}}`) in an env variable and a SECRET volume
/// resolve from the store too: `name/key` is a file under it. Without a store they are refused by field.
#[test]
fn mesos_reference_secrets_resolve_from_the_secrets_dir() {
    let c = Containers::new();
    let store = c.dir.path().join("secrets");
    std::fs::create_dir_all(store.join("db")).expect("store");
    std::fs::write(store.join("db/password"), SECRET).expect("secret");
    let id = c.id("mesos-secrets");
    let reference = json!({"type": "REFERENCE", "reference": {"name": "db", "key": "password"}});
    let call = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {
                "value": "test \"$PW\" = \"$(cat pw)\" && echo same",
                "environment": {"variables": [{"name": "PW", "type": "SECRET", "secret": reference}]}
            },
            "container": {"type": "MESOS", "volumes": [{
                "container_path": "pw", "mode": "RO",
                "source": {"type": "SECRET", "secret": reference}
            }]}
        }
    });
    let store_arg = store.to_string_lossy().into_owned();
    let out = c.run_stdin(
        &["--secrets-dir", &store_arg, "launch", "-"],
        &call.to_string(),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, "same\n", "{}", out.all());
    for dir in [c.root(), c.runtime_dir()] {
        let leaked = files_containing(&dir, SECRET);
        assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    }
    let out = c.run_stdin(&["launch", "--dry-run", "-"], &call.to_string());
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains("secret.reference") && out.stderr.contains("--secrets-dir"),
        "{}",
        out.stderr
    );
}
