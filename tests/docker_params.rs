//! Docker `parameters` of a Marathon app take effect in the running task as `docker run` flags would: the
//! capability set (`cap-add`/`cap-drop`), rlimits (`ulimit`), the memory limit (`memory`) and /dev/shm
//! (`shm-size`), a read-only root (`read-only`) with a tmpfs (`tmpfs`), name resolution (`add-host`, `dns`), a host device (`device`); a
//! flag that means nothing on one node is refused by name.

use serde_json::json;

use crate::common::{busybox_registry, cgroup_dirs, Containers, CMD_TIMEOUT};

#[test]
fn capabilities_ulimits_memory_and_shm_from_docker_parameters() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("dparams");
    let app = json!({
        "id": id,
        "cmd": "grep CapEff /proc/self/status; ulimit -n; df -k /dev/shm | tail -1; \
                touch /root-file 2>/dev/null && echo root-writable || echo root-read-only; \
                df -k /run | tail -1; echo ok > $MESOS_SANDBOX/w && echo sandbox-writable; \
                grep -c '10.9.8.7\tdb.internal' /etc/hosts; grep '^nameserver' /etc/resolv.conf | tr '\n' ' '; \
                echo; head -c 5 /dev/myzero | wc -c; sleep 1000",
        "mem": 256,
        "container": {"type": "DOCKER", "docker": {"image": image, "parameters": [
            {"key": "cap-add", "value": "NET_ADMIN"},
            {"key": "cap-drop", "value": "NET_RAW"},
            {"key": "ulimit", "value": "nofile=1000:1000"},
            {"key": "memory", "value": "64m"},
            {"key": "shm-size", "value": "16m"},
            {"key": "read-only", "value": "true"},
            {"key": "tmpfs", "value": "/run:size=8m,exec"},
            {"key": "add-host", "value": "db.internal:10.9.8.7"},
            {"key": "dns", "value": "10.9.8.53"},
            {"key": "device", "value": "/dev/zero:/dev/myzero:r"}
        ]}}
    });
    let out = c.run_stdin(&["launch", "-d", "-"], &app.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&id);
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    let logs = loop {
        let l = c.run_for(&["logs", &id], CMD_TIMEOUT).ok().stdout;
        if l.lines().count() >= 9 || std::time::Instant::now() > deadline {
            break l;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let lines: Vec<&str> = logs.lines().collect();
    let eff = lines[0].split_whitespace().last().unwrap_or("");
    let eff = u64::from_str_radix(eff, 16).unwrap_or_else(|_| panic!("CapEff: {logs}"));
    assert!(eff & (1 << 12) != 0, "NET_ADMIN added: {logs}");
    assert!(eff & (1 << 13) == 0, "NET_RAW dropped: {logs}");
    assert!(eff & (1 << 21) == 0, "no SYS_ADMIN: {logs}");
    assert_eq!(lines[1], "1000", "{logs}");
    assert!(
        lines[2].split_whitespace().nth(1) == Some("16384"),
        "16 MiB /dev/shm: {logs}"
    );
    // The memory limit is 64 MiB (below the app's 256 MB request, which it lowers).
    let limit = cgroup_dirs(&id).into_iter().find_map(|d| {
        ["memory.max", "memory.limit_in_bytes"]
            .iter()
            .find_map(|f| std::fs::read_to_string(d.join(f)).ok())
    });
    assert_eq!(limit.as_deref().map(str::trim), Some("67108864"), "{logs}");

    let refused = json!({"id": c.id("dparams-no"), "container": {"type": "DOCKER", "docker": {
        "image": image, "parameters": [{"key": "volumes-from", "value": "db"}]}}});
    let out = c.run_stdin(&["launch", "--dry-run", "-"], &refused.to_string());
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.lines().count() == 1 && out.stderr.contains("\"volumes-from\" is not supported"),
        "{}",
        out.all()
    );
}

#[test]
fn ucr_run_takes_the_same_flags_as_docker_run() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let script = "grep -c '1.2.3.4\tapi.local' /etc/hosts; grep '^nameserver' /etc/resolv.conf; \
                  touch /x 2>/dev/null || echo ro; df -k /run | tail -1 | awk '{print $2}'; \
                  test -c /dev/mynull && echo dev";
    let out = c.run_for(
        &[
            "run",
            "--rm",
            "--add-host",
            "api.local:1.2.3.4",
            "--dns",
            "9.9.9.9",
            "--read-only",
            "--tmpfs",
            "/run:size=4m",
            "--device",
            "/dev/null:/dev/mynull",
            &image,
            "sh",
            "-c",
            script,
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stdout,
        "1\nnameserver 9.9.9.9\nro\n4096\ndev\n",
        "{}",
        out.all()
    );
    let bad = c.run_for(
        &["run", "--rm", "--add-host", "nocolon", &image, "true"],
        CMD_TIMEOUT,
    );
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("--add-host[0].value: add-host \"nocolon\""),
        "{}",
        bad.all()
    );
}
