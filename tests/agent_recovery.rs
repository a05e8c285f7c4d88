//! The agent killed with SIGKILL and started again: 503 until recovery is done, then running containers keep
//! running and stay manageable, containers that exited meanwhile report the status their supervisor recorded,
//! an interrupted launch is torn down, this instance's orphans are destroyed; `--recover=cleanup`; and a crash
//! loop that counts what is left on the host at the end; and a container whose supervisor was SIGKILLed.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::agent::support::{busybox_registry, launch_json, Agent};
use crate::common::{cgroup_dirs, exclusive, mounts_under, Containers, CMD_TIMEOUT};
use crate::network::support::{host_net, warm_up, Net, NET};
use serde_json::json;
use ucr_fixtures::proxy::SlowProxy;

/// The container's cgroup parent (`/ucr/<instance>`), from its checkpoint.
fn cgroup_parent(c: &Containers, id: &str) -> PathBuf {
    let v = c.ps(id).expect("listed");
    PathBuf::from(v["cgroup"].as_str().expect("cgroup"))
        .parent()
        .expect("a parent")
        .to_path_buf()
}

/// A cgroup in every v1 controller hierarchy (or the v2 tree) under `parent`, as a crash could leave it.
fn make_orphan_cgroup(parent: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let rel = parent.strip_prefix("/").expect("absolute").join(name);
    let mut made = Vec::new();
    for base in ["memory", "pids", ""] {
        let d = PathBuf::from("/sys/fs/cgroup").join(base).join(&rel);
        if d.parent().is_some_and(|p| p.is_dir()) && std::fs::create_dir(&d).is_ok() {
            made.push(d);
        }
    }
    assert!(!made.is_empty(), "no hierarchy took {}", rel.display());
    made
}

#[test]
fn after_sigkill_running_containers_run_on_and_exits_are_reported() {
    let (_reg, image) = busybox_registry();
    let mut a = Agent::start(&[]);
    a.wait_ready();
    let run = a.c.id("rec-run");
    let exit = a.c.id("rec-exit");
    assert_eq!(a.launch(&run, &image, "sleep 1000").status, 200);
    assert_eq!(a.launch(&exit, &image, "sleep 1; exit 5").status, 200);
    a.kill9();
    let orphans = make_orphan_cgroup(&cgroup_parent(&a.c, &run), "orphan-of-a-crash");
    // `exit` ends while no agent runs; its supervisor records the status.
    std::thread::sleep(Duration::from_millis(1500));
    a.restart();
    a.wait_ready();
    let t = a.wait(&exit).json();
    assert_eq!(
        t["wait_container"]["exit_status"],
        5 << 8,
        "the true status: {t}"
    );
    assert_eq!(t["wait_container"]["state"], "TASK_FAILED", "{t}");
    let list = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":true}}"#)
        .json();
    assert!(
        list.to_string().contains(&run),
        "still running and listed: {list}"
    );
    let k = a.call(&format!(
        r#"{{"type":"KILL_CONTAINER","kill_container":{{"container_id":{{"value":"{run}"}}}}}}"#
    ));
    assert_eq!(k.status, 200, "{}", k.body);
    assert_eq!(
        a.wait(&run).json()["wait_container"]["state"],
        "TASK_KILLED"
    );
    assert!(
        orphans.iter().all(|d| !d.exists()),
        "the orphan cgroup is destroyed: {orphans:?}"
    );
    let snap = a.curl(&["http://agent/metrics/snapshot"]).json();
    assert!(
        snap["containerizer/ucr/orphans_destroyed"]
            .as_f64()
            .unwrap_or(0.0)
            >= 1.0,
        "{snap}"
    );
}

#[test]
fn recovery_answers_503_then_finishes_the_lost_container() {
    let c = Containers::new();
    let id = c.id("lost");
    // A checkpoint as an agent killed while its container ran left it: RUNNING, its supervisor gone.
    let run = c.runtime_dir().join("containers").join(&id);
    std::fs::create_dir_all(&run).expect("runtime dir");
    let state = json!({
        "id": id, "state": "RUNNING", "image": "busybox", "cgroup_name": id,
        "cgroup": format!("/ucr/test-lost/{id}"), "sandbox": c.root().join("containers").join(&id).join("sandbox"),
        "owner": {"pid": 2147483000, "start_time": 1}, "created": 1, "isolation": [],
    });
    std::fs::write(run.join("state.json"), state.to_string()).expect("state");
    std::fs::write(run.join("status"), "2304").expect("status: exit 9");
    // Held by the test: recovery waits for it, and meanwhile every call answers 503.
    let lock = File::create(run.join("finish.lock")).expect("lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    let a = Agent::over(c, &[]);
    let h = a.call(r#"{"type":"GET_HEALTH"}"#);
    assert_eq!(h.status, 503);
    assert_eq!(h.body, "Agent has not finished recovery");
    drop(lock);
    a.wait_ready();
    let t = a.wait(&id).json();
    assert_eq!(t["wait_container"]["exit_status"], 2304, "{t}");
    assert_eq!(t["wait_container"]["state"], "TASK_FAILED", "{t}");
}

#[test]
fn a_launch_cut_short_by_a_crash_is_torn_down_and_cleanup_destroys_everything() {
    let (reg, image) = busybox_registry();
    let slow = SlowProxy::start(&reg.host, Duration::from_millis(1000));
    let mut a = Agent::start(&[]);
    a.wait_ready();
    let kept = a.c.id("cleanup-run");
    assert_eq!(a.launch(&kept, &image, "sleep 1000").status, 200);
    let cut = a.c.id("cut");
    let client = a.call_in_background(launch_json(
        &cut,
        &format!("{}/bb:1", slow.addr),
        "sleep 1000",
    ));
    // Until the launch has claimed its id and is pulling, then the crash.
    let deadline = Instant::now() + CMD_TIMEOUT;
    while a.c.ps(&cut).is_none_or(|v| v["state"] != "PROVISIONING") {
        assert!(Instant::now() < deadline, "never provisioning");
        std::thread::sleep(Duration::from_millis(10));
    }
    a.kill9();
    let _ = client.join();
    a.restart();
    a.wait_ready();
    let v = a.c.ps(&cut).expect("recorded");
    assert_eq!(v["state"], "EXITED", "{v}");
    assert_eq!(
        v["termination"]["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{v}"
    );
    assert!(
        !a.c.root().join("provisioner").join(&cut).exists(),
        "no rootfs left"
    );
    assert!(cgroup_dirs(&cut).is_empty());
    // --recover=cleanup: every live container destroyed, then the agent exits.
    a.kill9();
    let port = crate::agent::support::free_port().to_string();
    let out = a.c.run_for(
        &[
            "agent",
            "--recover",
            "cleanup",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(a.c.ps(&kept).expect("recorded")["state"], "EXITED");
    assert!(cgroup_dirs(&kept).is_empty());
}

/// 20 rounds of: five launches at once (one that exits at once, one a little later, one that runs on, one on
/// the bridge network, one still pulling), a SIGKILL of the agent at a random moment, a restart. Then every
/// container must have been recovered exactly once with its true exit status, and nothing may be left on the
/// host after they are removed: no cgroup, mount, netns file, veth, iptables rule or lease.
#[test]
fn crash_loop_recovers_every_container_exactly_once_and_leaks_nothing() {
    let _host = exclusive();
    let (reg, image) = busybox_registry();
    let slow = SlowProxy::start(&reg.host, Duration::from_millis(400));
    let slow_image = format!("{}/bb:1", slow.addr);
    let n = Net::new();
    warm_up(&n, &image);
    let before = host_net();
    let cni = n.cni_dir.to_str().expect("utf-8").to_string();
    let mut a = Agent::over(n.c, &["--network_cni_config_dir", &cni]);
    a.wait_ready();
    // The kills must land before, during and after launches on a slow machine too (a TCG VM is ~10x slower):
    // their random moments span three times what one warm launch takes here, and at least 600 ms.
    let probe = a.c.id("loop-probe");
    let t0 = Instant::now();
    assert_eq!(a.launch(&probe, &image, "exit 0").status, 200);
    let span = (3 * t0.elapsed().as_millis() as u64).max(600);
    assert_eq!(a.wait(&probe).status, 200);
    let r = a.call(&format!(
        r#"{{"type":"REMOVE_CONTAINER","remove_container":{{"container_id":{{"value":"{probe}"}}}}}}"#
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut rng = (std::process::id() as u64) | 1;
    let mut next = move |max: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % max
    };
    let mut launched: Vec<(String, Option<i64>)> = Vec::new();
    for round in 0..20 {
        let ids: Vec<String> = (0..5)
            .map(|i| a.c.id(&format!("loop{round}-{i}")))
            .collect();
        let code = |i: usize| (round * 5 + i) as i64 % 100 + 1;
        let calls = vec![
            launch_json(&ids[0], &image, &format!("exit {}", code(0))),
            launch_json(
                &ids[1],
                &image,
                &format!("sleep 0.{}; exit {}", next(5) + 1, code(1)),
            ),
            launch_json(&ids[2], &image, "sleep 1000"),
            {
                let mut v: serde_json::Value =
                    serde_json::from_str(&launch_json(&ids[3], &image, "sleep 1000"))
                        .expect("json");
                v["launch_container"]["container"]["network_infos"] = json!([{"name": NET}]);
                v.to_string()
            },
            launch_json(&ids[4], &slow_image, "sleep 1000"),
        ];
        let clients: Vec<_> = calls
            .into_iter()
            .map(|body| a.call_in_background(body))
            .collect();
        std::thread::sleep(Duration::from_millis(next(span)));
        a.kill9();
        for c in clients {
            let _ = c.join();
        }
        std::thread::sleep(Duration::from_millis(next(span / 2)));
        a.restart();
        a.wait_ready();
        launched.extend(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), (i < 2).then(|| code(i)))),
        );
    }
    // Everything ends: what runs is killed; each WAIT reads one end, the same twice.
    for (id, _) in &launched {
        if a.c.ps(id).is_some_and(|v| v["state"] != "EXITED") {
            a.call(&format!(r#"{{"type":"KILL_CONTAINER","kill_container":{{"container_id":{{"value":"{id}"}}}}}}"#));
        }
    }
    let (mut recorded, mut statuses, mut cut) = (0, 0, 0);
    for (id, exit) in &launched {
        let Some(v) = a.c.ps(id) else {
            continue; // Killed before its id was claimed: nothing to recover.
        };
        recorded += 1;
        let first = a.wait(id);
        assert_eq!(first.status, 200, "{id}: {} {v}", first.body);
        let t = first.json()["wait_container"].clone();
        assert_eq!(
            a.wait(id).json()["wait_container"],
            t,
            "{id}: recorded once"
        );
        let ran = t["state"] != "TASK_FAILED" || t["reason"] != "REASON_CONTAINER_LAUNCH_FAILED";
        if let (Some(code), true) = (exit, ran) {
            assert_eq!(t["exit_status"], code << 8, "{id}: the true status: {t}");
            statuses += 1;
        }
        cut += usize::from(!ran);
        let r = a.call(&format!(r#"{{"type":"REMOVE_CONTAINER","remove_container":{{"container_id":{{"value":"{id}"}}}}}}"#));
        assert_eq!(r.status, 200, "{id}: {}", r.body);
    }
    eprintln!(
        "{} launches: {recorded} recorded, {statuses} true exit statuses checked, {cut} launches cut short",
        launched.len()
    );
    assert!(
        statuses >= 10 && cut >= 5,
        "the rounds did not exercise enough"
    );
    a.kill9();
    let instance = a.c.runtime_dir().join("containers");
    let left: Vec<String> = std::fs::read_dir(&instance)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let state = std::fs::read_to_string(e.path().join("state.json")).unwrap_or_default();
            format!("{:?}: {state}", e.file_name())
        })
        .collect();
    assert!(left.is_empty(), "no container left: {left:#?}");
    for (id, _) in &launched {
        assert!(cgroup_dirs(id).is_empty(), "{id}: cgroup left");
    }
    assert!(
        mounts_under(a.c.dir.path()).is_empty(),
        "mounts left: {:?}",
        mounts_under(a.c.dir.path())
    );
    assert_eq!(
        host_net(),
        before,
        "veths, rules, leases and netns mounts as before"
    );
}

/// SIGKILL of one supervisor while the agent runs: GET_CONTAINERS still lists the container, KILL_CONTAINER
/// kills its task, WAIT_CONTAINER reports the kill (recorded once), REMOVE_CONTAINER leaves nothing behind.
#[test]
fn a_container_whose_supervisor_was_killed_is_killed_waited_and_removed_through_the_agent() {
    let (_reg, image) = busybox_registry();
    let a = Agent::start(&[]);
    a.wait_ready();
    let id = a.c.id("agent-sup-killed");
    assert_eq!(a.launch(&id, &image, "sleep 1000").status, 200);
    let supervisor = a.c.ps(&id).expect("listed")["owner"]["pid"]
        .as_i64()
        .expect("owner pid") as i32;
    // SAFETY: kill(2) of the supervisor of this test's container.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    let deadline = Instant::now() + CMD_TIMEOUT;
    while a.c.ps(&id).expect("listed")["lost"] != true {
        assert!(Instant::now() < deadline, "never seen as lost");
        std::thread::sleep(Duration::from_millis(20));
    }
    let call = |kind: &str, field: &str| {
        a.call(&format!(
            r#"{{"type":"{kind}","{field}":{{"container_id":{{"value":"{id}"}}}}}}"#
        ))
    };
    let listed = a.call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":true}}"#);
    assert!(listed.body.contains(&id), "{}", listed.body);
    let k = call("KILL_CONTAINER", "kill_container");
    assert_eq!(k.status, 200, "{}", k.body);
    let w = a.wait(&id);
    assert_eq!(w.status, 200, "{}", w.body);
    let t = w.json()["wait_container"].clone();
    assert_eq!(
        (t["exit_status"].as_i64(), t["state"].as_str()),
        (Some(9), Some("TASK_KILLED")),
        "{t}"
    );
    assert_eq!(a.wait(&id).json()["wait_container"], t, "recorded once");
    let r = call("REMOVE_CONTAINER", "remove_container");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(a.c.ps(&id).is_none(), "removed");
    assert!(cgroup_dirs(&id).is_empty(), "no cgroup left");
    assert!(mounts_under(a.c.dir.path()).is_empty(), "no mount left");
}
