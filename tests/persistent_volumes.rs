//! Local persistent volumes: what one run of an app writes is there for the next run of the same app, through
//! `ucr rm` of the first; `ucr volume ls` lists it with its users; `ucr volume rm` refuses while a live container
//! uses it and deletes it after. A `size` is a project quota where the kernel and filesystem have them, and is
//! reported as not enforced (with why) where they do not.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

/// A Mesos LAUNCH_CONTAINER call of a command task with one persistent volume `roles/web/<vol>` at `data`.
pub(crate) fn task(id: &str, vol: &str, size_mb: u64, cmd: &str) -> String {
    json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {"value": cmd},
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                {"name": "disk", "type": "SCALAR", "scalar": {"value": size_mb}, "role": "web",
                 "disk": {"persistence": {"id": vol}, "volume": {"container_path": "data", "mode": "RW"}}}
            ]
        }
    })
    .to_string()
}

fn volumes(c: &Containers) -> Vec<Value> {
    let out = c.run_for(&["volume", "ls", "--json"], CMD_TIMEOUT).ok();
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_volume_outlives_its_task_and_goes_only_with_volume_rm_when_unused() {
    let c = Containers::new();
    let (first, second) = (c.id("pv-c"), c.id("pv-d"));
    let out = c.run_stdin(
        &["launch", "-"],
        &task(&first, "kv", 16, "echo one >> data/log"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    // ucr rm of the container leaves the volume.
    c.run_for(&["rm", &first], CMD_TIMEOUT).ok();
    let out = c.run_stdin(
        &["launch", "-d", "-"],
        &task(&second, "kv", 16, "echo two >> data/log; sleep 1000"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&second);
    let listed = volumes(&c);
    let v = listed
        .iter()
        .find(|v| v["name"] == "roles/web/kv")
        .unwrap_or_else(|| panic!("listed: {listed:?}"));
    assert_eq!(v["used_by"], json!([second]), "{v}");
    let path = v["path"].as_str().expect("path").to_string();
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    while std::fs::read_to_string(Path::new(&path).join("log")).unwrap_or_default() != "one\ntwo\n"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the second run sees the first's data"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = c.run_for(&["volume", "rm", "roles/web/kv"], CMD_TIMEOUT);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains(&format!("in use by {second}")),
        "{}",
        out.stderr
    );
    assert!(Path::new(&path).join("log").exists(), "nothing removed");
    c.run_for(&["kill", &second], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &second], CMD_TIMEOUT);
    // Exited users do not hold it.
    let out = c.run_for(&["volume", "rm", "roles/web/kv"], CMD_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!Path::new(&path).exists());
    assert!(volumes(&c).iter().all(|v| v["name"] != "roles/web/kv"));
    // A name that could leave the volumes directory is refused by name.
    let out = c.run_for(&["volume", "rm", "../../etc"], CMD_TIMEOUT);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not a volume name"), "{}", out.stderr);
}

/// The size as a project quota on a loop-mounted ext4 with project quotas, when this kernel can mount one
/// (its quota support is a build option); otherwise the volume says the size is not enforced, and why.
#[test]
fn a_size_is_a_project_quota_where_the_filesystem_has_them() {
    let c = Containers::new();
    let img = c.dir.path().join("fs.img");
    let mnt = c.root();
    std::fs::create_dir_all(&mnt).expect("root");
    let sh = |cmd: &str| {
        Command::new("sh")
            .args(["-c", cmd])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(sh(&format!(
        "truncate -s 64M {i} && mkfs.ext4 -q -F -O quota,project {i}",
        i = img.display()
    )));
    // The ucr root itself on the quota filesystem (unmounted at the end, and by the harness if this fails).
    let mounted = sh(&format!(
        "mount -o loop,prjquota {} {} 2>/dev/null",
        img.display(),
        mnt.display()
    ));
    let id = c.id("quota");
    let out = c.run_stdin(
        &["launch", "-"],
        &task(
            &id,
            "q",
            4,
            "dd if=/dev/zero of=data/big bs=1M count=8 2>&1 | tail -1",
        ),
    );
    let listed = volumes(&c);
    let v = listed
        .iter()
        .find(|v| v["name"] == "roles/web/q")
        .cloned()
        .unwrap_or_default();
    let enforcement = v["enforcement"].clone();
    c.run_for(&["rm", "-f", &id], CMD_TIMEOUT);
    if mounted {
        sh(&format!("umount {}", mnt.display()));
        assert_eq!(enforcement["quota"], "enforced", "{v}");
        assert_eq!(enforcement["bytes"], 4 * 1024 * 1024, "{v}");
        assert!(out.stdout.contains("Disk quota exceeded"), "{}", out.all());
    } else {
        // No project quotas on this kernel (ext4 with the quota feature does not even mount): said, with why.
        assert_eq!(enforcement["quota"], "not_enforced", "{v}");
        assert!(
            enforcement["why"]
                .as_str()
                .is_some_and(|w| w.contains("project quotas")),
            "{v}"
        );
    }
}

/// Marathon's documented form (persistent-volumes.md, the MySQL example): a persistent volume `mysqldata` and a
/// host volume whose relative `hostPath` names it, re-mounting it at an absolute path. A second launch of the same
/// app id finds what the first wrote, at both paths.
#[test]
fn a_marathon_app_finds_its_persistent_volume_again_at_both_paths() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("mysql");
    let app = |cmd: &str| {
        json!({
            "id": format!("/{id}"),
            "cmd": cmd,
            "container": {
                "type": "MESOS",
                "docker": {"image": image},
                "volumes": [
                    {"containerPath": "mysqldata", "mode": "RW", "persistent": {"size": 64, "type": "root"}},
                    {"containerPath": "/var/lib/mysql", "hostPath": "mysqldata", "mode": "RW"}
                ]
            }
        })
        .to_string()
    };
    let out = c.run_stdin(&["launch", "-"], &app("echo first > /var/lib/mysql/row"));
    assert_eq!(out.code, 0, "{}", out.all());
    c.run_for(&["rm", &id], CMD_TIMEOUT).ok();
    let out = c.run_stdin(
        &["launch", "-"],
        &app("cat /var/lib/mysql/row $MESOS_SANDBOX/mysqldata/row"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, "first\nfirst\n", "{}", out.all());
    let names: Vec<Value> = volumes(&c).into_iter().map(|v| v["name"].clone()).collect();
    let name = format!("apps/{id}/mysqldata");
    assert_eq!(names, [json!(name)]);
    c.run_for(&["rm", &id], CMD_TIMEOUT).ok();
    let out = c.run_for(&["volume", "rm", &name], CMD_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(volumes(&c).is_empty());
}
