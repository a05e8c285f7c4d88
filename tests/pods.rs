//! Marathon pods end to end: a parent holding the pod's network, volumes and resource envelope, its members
//! nested in it. Members reach each other on localhost and share ephemeral volumes and /dev/shm; an endpoint's host port is
//! reachable from the host; each member has its own memory limit inside the pod's; stopping the pod leaves no
//! process, mount, cgroup, network namespace, veth or iptables rule; a failing member ends the pod, and a pod
//! whose members all finished finishes.

use serde_json::json;

use crate::common::{cgroup_dirs, mounts_under, procs_in_cgroup, CMD_TIMEOUT};
use crate::network::support::*;

/// A pod member that sleeps, as Marathon writes one: an argv over the image's entrypoint, small resources.
fn sleeper(image: &str, name: &str) -> serde_json::Value {
    json!({"name": name, "resources": {"cpus": 0.1, "mem": 32}, "image": {"kind": "DOCKER", "id": image},
           "exec": {"command": {"argv": ["sleep", "600"]}, "overrideEntrypoint": true}})
}

/// Launches the pod `id` of three sleeping members, a, b and c, detached.
fn launch_three(c: &crate::common::Containers, image: &str, id: &str) {
    let members = ["a", "b", "c"].map(|name| sleeper(image, name));
    let pod = json!({"id": id, "containers": members});
    let out = c.run_stdin(&["launch", "-d", "-"], &pod.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
}

/// No process, cgroup or record of the pod `id` is left (`when` says at which point of the test).
fn left_nothing(c: &crate::common::Containers, id: &str, when: &str) {
    assert!(c.ps(id).is_none(), "{when}: the pod's record is left");
    assert!(procs_in_cgroup(id).is_empty(), "{when}: processes left");
    assert!(cgroup_dirs(id).is_empty(), "{when}: cgroups left");
}

fn limit(pod: &str, member: &str) -> Option<u64> {
    cgroup_dirs(pod).iter().find_map(|d| {
        let dir = if member.is_empty() {
            d.clone()
        } else {
            d.join(member)
        };
        std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
            .or_else(|_| std::fs::read_to_string(dir.join("memory.max")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    })
}

#[test]
fn a_pod_of_an_httpd_and_a_client_shares_localhost_a_volume_and_an_envelope() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let before = host_net();
    let id = n.c.id("pod");
    let pod = json!({
        "id": id,
        "networks": [{"mode": "container/bridge"}],
        "volumes": [{"name": "shared"}],
        "containers": [
            {"name": "web", "resources": {"cpus": 0.1, "mem": 48},
             "image": {"kind": "DOCKER", "id": image},
             "exec": {"command": {"shell":
                "echo from-web > /data/index.html && exec httpd -f -p $ENDPOINT_HTTP -h /data"}},
             "endpoints": [{"name": "http", "containerPort": 8080, "hostPort": 0, "protocol": ["tcp"]}],
             "volumeMounts": [{"name": "shared", "mountPath": "/data"}]},
            {"name": "client", "resources": {"cpus": 0.1, "mem": 40},
             "image": {"kind": "DOCKER", "id": image},
             "exec": {"command": {"shell":
                "until wget -qO /data/fetched http://127.0.0.1:8080/index.html; do sleep 0.1; done; \
                 cat /data/fetched; exec sleep 600"}},
             "volumeMounts": [{"name": "shared", "mountPath": "/data"}]}
        ]
    });
    let out =
        n.c.run_stdin(&n.args(&["launch", "-d", "-"]), &pod.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let (web, client) = (format!("{id}/web"), format!("{id}/client"));
    let web_pid = n.c.wait_running(&web);
    let client_pid = n.c.wait_running(&client);
    // The parent's process is `ucr pause` (run in place of its exec): that command line, no fd but stdio.
    let pause = n.c.wait_running(&id);
    // One UTS, IPC and network namespace for the pod, the pause's and every member's task's, and not the host's.
    let ns = |pid: &dyn std::fmt::Display, kind: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("ns link")
    };
    for kind in ["uts", "ipc", "net"] {
        assert_eq!(ns(&web_pid, kind), ns(&pause, kind), "{kind}");
        assert_eq!(ns(&client_pid, kind), ns(&pause, kind), "{kind}");
        assert_ne!(ns(&pause, kind), ns(&"self", kind), "{kind}");
    }
    let name = |m: &str| n.ucr(&["exec", m, "hostname"]).stdout.trim().to_string();
    assert_eq!(name(&format!("{id}.web")), name(&format!("{id}.client")));
    let cmdline = std::fs::read(format!("/proc/{pause}/cmdline")).expect("cmdline");
    let args: Vec<_> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect();
    assert!(
        args.len() == 2 && args[0].ends_with("/ucr") && args[1] == "pause",
        "{args:?}"
    );
    let fds: Vec<_> = std::fs::read_dir(format!("/proc/{pause}/fd"))
        .expect("fds")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(fds.len(), 3, "the pause holds only stdio: {fds:?}");
    // The client reached the httpd on the pod's localhost, and wrote what it got into the shared volume.
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    loop {
        let logs = n.ucr(&["logs", &format!("{id}.client")]).stdout;
        if logs.contains("from-web") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "client never fetched: {logs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let seen = n.ucr(&["exec", &format!("{id}.web"), "cat", "/data/fetched"]);
    assert_eq!(seen.stdout.trim(), "from-web", "{}", seen.all());
    // One IPC namespace and one /dev/shm for the pod (POSIX shared memory between its members).
    let put = n.ucr(&[
        "exec",
        &format!("{id}.web"),
        "sh",
        "-c",
        "echo shared > /dev/shm/seg",
    ]);
    assert_eq!(put.code, 0, "{}", put.all());
    let got = n.ucr(&["exec", &format!("{id}.client"), "cat", "/dev/shm/seg"]);
    assert_eq!(got.stdout.trim(), "shared", "{}", got.all());
    // The endpoint's host port, mapped on the pod's network, from the host.
    let (_ip, port) = ip_and_port(&n.inspect(&id));
    assert!(port > 0);
    assert_eq!(http_get(port, "/index.html").trim(), "from-web");
    // Each member's limit, inside the pod's envelope.
    let mb = 1024 * 1024;
    assert_eq!(limit(&id, "web"), Some(48 * mb));
    assert_eq!(limit(&id, "client"), Some(40 * mb));
    assert!(
        limit(&id, "").is_some_and(|l| l >= 88 * mb),
        "{:?}",
        limit(&id, "")
    );
    // Stopped: every member killed with its kill policy, then the pod; nothing left behind.
    let out = n.ucr(&["stop", "-t", "2", &id]);
    assert_eq!(out.code, 0, "{}", out.all());
    for m in [&web, &client] {
        let v = n.c.ps(m).expect("member kept until rm");
        assert_eq!(v["termination"]["state"], "TASK_KILLED", "{v}");
    }
    assert_eq!(
        n.c.ps(&id).expect("pod")["termination"]["state"],
        "TASK_KILLED"
    );
    assert!(procs_in_cgroup(&id).is_empty());
    assert!(cgroup_dirs(&id).is_empty());
    assert_eq!(rules_of(&id), 0);
    n.ucr(&["rm", &id]).ok();
    assert!(n.c.ps(&web).is_none());
    assert!(mounts_under(n.c.dir.path()).is_empty());
    assert_eq!(host_net(), before);
}

#[test]
fn a_failing_member_ends_the_pod_and_a_pod_whose_members_finished_finishes() {
    let c = crate::common::Containers::new();
    let id = c.id("failing");
    let pod = json!({
        "id": id,
        "containers": [
            {"name": "bad", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"shell": "sleep 0.3; exit 3"}}},
            {"name": "long", "resources": {"cpus": 0.1, "mem": 32},
             "exec": {"command": {"shell": "exec sleep 600"}}, "lifecycle": {"killGracePeriodSeconds": 1}}
        ]
    });
    let out = c.run_stdin(&["launch", "-d", "-"], &pod.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    let t = &c.ps(&id).expect("pod")["termination"];
    assert_eq!(t["state"], "TASK_FAILED", "{t}");
    assert!(
        t["message"].as_str().is_some_and(|m| m.contains("bad")),
        "{t}"
    );
    let long = c.ps(&format!("{id}/long")).expect("member");
    assert_eq!(long["termination"]["state"], "TASK_KILLED", "{long}");
    let bad = c.ps(&format!("{id}/bad")).expect("member");
    assert_eq!(bad["termination"]["state"], "TASK_FAILED", "{bad}");
    assert!(procs_in_cgroup(&id).is_empty());

    let done = c.id("done");
    let pod = json!({
        "id": done,
        "containers": [
            {"name": "a", "resources": {"cpus": 0.1, "mem": 32}, "exec": {"command": {"shell": "true"}}},
            {"name": "b", "resources": {"cpus": 0.1, "mem": 32}, "exec": {"command": {"shell": "sleep 0.3"}}}
        ]
    });
    let out = c.run_stdin(&["launch", "-d", "-"], &pod.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let w = c.run_for(&["wait", &done], CMD_TIMEOUT);
    assert_eq!(w.stdout.trim(), "0", "{}", w.all());
    assert_eq!(
        c.ps(&done).expect("pod")["termination"]["state"],
        "TASK_FINISHED"
    );
    assert!(cgroup_dirs(&done).is_empty());
}

/// A pod starts whole or not at all. Its members are made while its parent starts, so a member that cannot be
/// made (its image cannot be pulled) and one whose task cannot start (an executable file the kernel cannot run:
/// the init's exec fails, after the member was made) must each undo the whole pod: the launch fails naming the
/// member, and no process, cgroup or mount is left; every record says the launch failed until `rm`.
#[test]
fn a_pod_whose_member_cannot_launch_leaves_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;
    let c = crate::common::Containers::new();
    // On the host's root, where a task without an image runs and sees /var/tmp as the host has it.
    let host = tempfile::Builder::new()
        .prefix("ucr-e2e-")
        .tempdir_in("/var/tmp")
        .expect("host dir");
    let program = host.path().join("not-a-program");
    std::fs::write(&program, b"neither ELF nor a script\n").expect("program");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let member = |name: &str, extra: serde_json::Value| {
        let mut m = json!({"name": name, "resources": {"cpus": 0.1, "mem": 32},
                           "exec": {"command": {"shell": "exec sleep 600"}}});
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        m
    };
    let unpullable = json!({"image": {"kind": "DOCKER", "id": "127.0.0.1:9/ucr-test/none:latest"}});
    let unstartable = json!({"exec": {"command": {"argv": [program.display().to_string()]}}});
    for (base, bad) in [("unmade", unpullable), ("unstarted", unstartable)] {
        let id = c.id(base);
        let pod = json!({"id": id, "containers": [
            member("first", json!({})), member("bad", bad), member("last", json!({}))
        ]});
        let out = c.run_stdin(&["launch", "-d", "-"], &pod.to_string());
        assert_ne!(out.code, 0, "{}", out.all());
        assert!(out.stderr.contains(&format!("{id}/bad")), "{}", out.all());
        let why = if base == "unmade" {
            "127.0.0.1:9"
        } else {
            "exec"
        };
        assert!(out.stderr.contains(why), "{}", out.all());
        assert!(procs_in_cgroup(&id).is_empty(), "{base}: processes left");
        assert!(cgroup_dirs(&id).is_empty(), "{base}: cgroups left");
        assert!(mounts_under(c.dir.path()).is_empty(), "{base}: mounts left");
        for m in [id.clone(), format!("{id}/first"), format!("{id}/bad")] {
            let v = c.ps(&m).unwrap_or_else(|| panic!("{m} keeps its record"));
            assert_eq!(v["state"], "EXITED", "{v}");
        }
        let out = c.run(&["rm", &id]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(c.ps(&format!("{id}/first")).is_none());
    }
}

/// The members are forked as soon as the pod's parent is claimed and provide their rootfs while the parent is
/// made; they wait for it at the pod's gate. A parent that cannot be made (its network does not exist) closes
/// the gate: the launch fails with the parent's error, every member ends "the pod's parent ... was not made"
/// with its rootfs unmounted, and the records stay until `rm` (or go at once with `--rm`).
#[test]
fn a_pod_whose_parent_cannot_be_made_ends_the_members_waiting_for_it() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    let out = c.run(&["pull", "--quiet", &image]);
    assert_eq!(out.code, 0, "{}", out.all());
    for rm in [false, true] {
        let id = c.id(if rm { "unmade-rm" } else { "unmade" });
        let pod = json!({"id": id, "networks": [{"mode": "container", "name": "ucr-test-nosuch"}],
                         "containers": [sleeper(&image, "a"), sleeper(&image, "b")]});
        let mut args = vec!["launch", "-d"];
        if rm {
            args.push("--rm");
        }
        args.push("-");
        let out = c.run_stdin(&args, &pod.to_string());
        assert_eq!(out.code, 125, "{}", out.all());
        assert!(out.stderr.contains("ucr-test-nosuch"), "{}", out.all());
        assert!(procs_in_cgroup(&id).is_empty(), "processes left");
        assert!(cgroup_dirs(&id).is_empty(), "cgroups left");
        assert!(mounts_under(c.dir.path()).is_empty(), "mounts left");
        if rm {
            assert!(c.ps(&id).is_none(), "--rm: the pod's record is left");
            continue;
        }
        for m in ["a", "b"] {
            let v = c
                .ps(&format!("{id}/{m}"))
                .expect("the member keeps its record");
            assert_eq!(v["state"], "EXITED", "{v}");
            let why = v.to_string();
            assert!(
                why.contains(&format!("the pod's parent {id} was not made")),
                "{v}"
            );
        }
        let out = c.run(&["rm", &id]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(c.ps(&format!("{id}/a")).is_none());
    }
}

/// `ucr launch` of a pod killed (SIGKILL) at any moment of the pod's start, whatever its members were doing
/// then (being made before the parent runs, joining it, starting), leaves nothing that `rm --force` of the pod
/// does not take away: no process, cgroup or mount, and no record.
#[test]
fn a_pod_launch_killed_at_any_moment_is_removed_whole() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let member = |name: &str| sleeper(&image, name);
    for delay_ms in [0u64, 2, 4, 6, 8, 10, 13, 16, 20, 30] {
        let id = c.id(&format!("cut{delay_ms}"));
        let file = c.dir.path().join(format!("{id}.json"));
        let pod = json!({"id": id, "containers": [member("a"), member("b"), member("c")]});
        std::fs::write(&file, pod.to_string()).expect("pod file");
        let mut launch = c.spawn(&["launch", "-d", &file.display().to_string()]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = launch.child.kill();
        let _ = launch.child.wait();
        let out = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
        let gone = out.code == 0 || out.stderr.contains("no such container");
        assert!(gone, "after {delay_ms} ms: {}", out.all());
        assert!(
            c.ps(&id).is_none(),
            "after {delay_ms} ms: the pod's record is left"
        );
        assert!(
            procs_in_cgroup(&id).is_empty(),
            "after {delay_ms} ms: processes left"
        );
        assert!(
            cgroup_dirs(&id).is_empty(),
            "after {delay_ms} ms: cgroups left"
        );
        assert!(
            mounts_under(c.dir.path()).is_empty(),
            "after {delay_ms} ms: mounts left: {:?}",
            mounts_under(c.dir.path())
        );
    }
}

/// The processes whose command line names `needle` (a forked member keeps its launcher's command line).
fn processes_naming(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// A pod's members are made by processes of their own. When the `ucr launch` that forked them is killed, they
/// go on, and they are their launch's owners: `rm --force` stops each at its next step and waits for it to
/// undo, instead of taking the members for lost (their launcher dead) and tearing them down under the feet of
/// the processes still making them. Here the member is held in its fetch when its launcher dies.
#[test]
fn rm_of_a_pod_whose_launcher_was_killed_waits_for_the_members_still_being_made() {
    use std::io::{Read, Write};
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    // A server that answers the member's fetch only after a while.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (asked, asked_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut req = [0u8; 4096];
        let _ = s.read(&mut req);
        let _ = asked.send(());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    });
    let id = c.id("held");
    let file = c.dir.path().join(format!("{id}.json"));
    let pod = json!({"id": id, "containers": [
        {"name": "a", "resources": {"cpus": 0.1, "mem": 32}, "image": {"kind": "DOCKER", "id": image},
         "artifacts": [{"uri": format!("http://127.0.0.1:{port}/data")}],
         "exec": {"command": {"argv": ["sleep", "600"]}, "overrideEntrypoint": true}}]});
    std::fs::write(&file, pod.to_string()).expect("pod file");
    let path = file.display().to_string();
    let mut launch = c.spawn(&["launch", "-d", &path]);
    asked_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the member fetches");
    let _ = launch.child.kill();
    let _ = launch.child.wait();
    assert!(
        !processes_naming(&path).is_empty(),
        "the member's process goes on without its launcher"
    );
    let out = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out.all());
    // The member's process ends right after it records its end, which is what the rm waited for.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while !processes_naming(&path).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        processes_naming(&path).is_empty(),
        "a process still makes a member of the removed pod"
    );
    left_nothing(&c, &id, "after the rm");
    assert!(mounts_under(c.dir.path()).is_empty(), "mounts left");
    server.join().expect("server");
}

/// `rm --force` of a pod and of one of its members at once (or a stop of another member): each succeeds or
/// finds its container gone, and the pod goes whole. The pod's destroy lists its members and then destroys each,
/// so a member removed meanwhile is one it no longer has to destroy, not an error that leaves the parent running.
#[test]
fn a_pod_removed_while_its_members_are_removed_and_stopped_goes_whole() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    for round in 0..6 {
        let id = c.id(&format!("race{round}"));
        launch_three(&c, &image, &id);
        let (a, b) = (format!("{id}/a"), format!("{id}/b"));
        let all = [
            c.spawn(&["rm", "--force", &id]),
            c.spawn(&["rm", "--force", &b]),
            c.spawn(&["stop", "-t", "1", &a]),
        ];
        let [pod_rm, rest @ ..] = all.map(|s| s.wait_for(CMD_TIMEOUT));
        assert_eq!(pod_rm.code, 0, "round {round}: {}", pod_rm.all());
        for out in rest {
            let gone = ["no such container", "not running (it has exited)"]
                .iter()
                .any(|m| out.stderr.trim_end().ends_with(m));
            assert!(out.code == 0 || gone, "round {round}: {}", out.all());
        }
        left_nothing(&c, &id, &format!("round {round}"));
    }
    assert!(mounts_under(c.dir.path()).is_empty(), "mounts left");
}

/// `ucr stop -t 0` of a running pod: each member's supervisor tears its cgroup down as its task dies, beside the
/// stop's own teardown of the same cgroup. The stop must take a cgroup the other removed right after its freeze
/// for one with nothing left to kill, not wait for the frozen state of a file that is gone until the freezer's
/// one-second deadline (which it did in most stops).
#[test]
fn a_running_pod_stopped_at_once_is_not_held_by_a_member_torn_down_beside_the_stop() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    for round in 0..4 {
        let id = c.id(&format!("held{round}"));
        launch_three(&c, &image, &id);
        if round == 0 {
            // `top` of a pod lists its members' processes too: the pause, and three sleeps each under its
            // member's init.
            let top = c.run_for(&["top", &id, "--json"], CMD_TIMEOUT).ok().stdout;
            let commands: Vec<String> = top
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|r| r["command"].as_str().map(str::to_string))
                .collect();
            let sleeps = commands.iter().filter(|c| *c == "sleep 600").count();
            let inits = commands.iter().filter(|c| *c == "ucr-init").count();
            assert_eq!((commands.len(), sleeps, inits), (7, 3, 3), "{top}");
        }
        let t = std::time::Instant::now();
        let out = c.run_for(&["stop", "-t", "0", &id], CMD_TIMEOUT);
        let took = t.elapsed();
        assert_eq!(out.code, 0, "round {round}: {}", out.all());
        assert!(
            took < std::time::Duration::from_millis(800),
            "round {round}: the stop took {took:?}"
        );
        c.run_for(&["rm", &id], CMD_TIMEOUT).ok();
        left_nothing(&c, &id, &format!("round {round}"));
    }
}

/// `ucr stop -t 0` of a pod while `ucr launch` still makes it: the launch ends as a launch that a kill stopped
/// (exit 137, "killed before the task started", whichever member or step the kill reached first, even one whose
/// cgroup the stop took away under it), or whole if it was done first; nothing is left either way. The `-t`
/// given is every member's grace too.
#[test]
fn a_pod_stopped_while_it_launches_reports_the_kill() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let member = |name: &str| sleeper(&image, name);
    for round in 0..9u64 {
        let id = c.id(&format!("stopped{round}"));
        let file = c.dir.path().join(format!("{id}.json"));
        let pod = json!({"id": id, "containers": [member("a"), member("b"), member("c")]});
        std::fs::write(&file, pod.to_string()).expect("pod file");
        let launch = c.spawn(&["launch", "-d", &file.display().to_string()]);
        std::thread::sleep(std::time::Duration::from_millis(round * 3));
        let stop = c.run_for(&["stop", "-t", "0", &id], CMD_TIMEOUT);
        let launch = launch.wait_for(CMD_TIMEOUT);
        match launch.code {
            0 => {}
            137 => assert!(
                launch.stderr.contains("killed before the task started"),
                "round {round}: {}",
                launch.all()
            ),
            _ => panic!("round {round}: {}", launch.all()),
        }
        let gone = stop.code == 0 || stop.stderr.contains("no such container");
        assert!(gone, "round {round}: {}", stop.all());
        let out = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
        assert!(
            out.code == 0 || out.stderr.contains("no such container"),
            "{}",
            out.all()
        );
        left_nothing(&c, &id, &format!("round {round}"));
    }
    assert!(mounts_under(c.dir.path()).is_empty(), "mounts left");
}

/// A pod whose image is not in the store yet: the first member to need it pulls it in the process that makes
/// it (which, left with the pull's threads, then execs its supervisor rather than becoming it), the others wait
/// for that pull (`pull_lock`) and find the image complete, and the pod runs whole.
#[test]
fn a_pod_launched_on_an_empty_store_pulls_in_a_members_process_and_runs() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    let member = |name: &str| sleeper(&image, name);
    let id = c.id("cold");
    let pod = json!({"id": id, "containers": [member("a"), member("b")]});
    let out = c.run_stdin(&["launch", "-d", "-"], &pod.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    for m in ["a", "b"] {
        let v = c.ps(&format!("{id}/{m}")).expect("member");
        assert_eq!(v["state"], "RUNNING", "{v}");
    }
    let out = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(procs_in_cgroup(&id).is_empty());
    assert!(mounts_under(c.dir.path()).is_empty());
}

/// Members that all force a pull of the same image pull it once: each waits for the pull under way and takes
/// the image it ended with, which is as fresh as its own would be (Mesos's store joins a pull under way). A
/// later forced launch pulls again. In the foreground, where a launch prints "Pulling" for each pull.
#[test]
fn members_that_force_the_same_image_pull_it_once() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    let member = |name: &str| {
        json!({"name": name, "resources": {"cpus": 0.1, "mem": 32},
               "image": {"kind": "DOCKER", "id": image, "forcePull": true},
               "exec": {"command": {"argv": ["true"]}, "overrideEntrypoint": true}})
    };
    for (base, members) in [("forced", vec!["a", "b", "c"]), ("again", vec!["a"])] {
        let id = c.id(base);
        let pod =
            json!({"id": id, "containers": members.iter().map(|m| member(m)).collect::<Vec<_>>()});
        let out = c.run_stdin(&["launch", "--rm", "-"], &pod.to_string());
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(out.stderr.matches("Pulling ").count(), 1, "{}", out.all());
        assert!(procs_in_cgroup(&id).is_empty());
        assert!(c.ps(&id).is_none(), "{id} kept");
    }
}

/// A Mesos task group (a scheduler's LAUNCH_GROUP) runs as the default executor runs it: each task nested in the
/// executor's container, with its own limits, the group's end waited for.
#[test]
fn a_mesos_task_group_runs_its_tasks_nested_in_the_executors_container() {
    let c = crate::common::Containers::new();
    let exec_id = c.id("group");
    let task = |id: &str, cmd: &str| {
        json!({
            "name": id, "task_id": {"value": id}, "agent_id": {"value": "a1"},
            "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 40}}],
            "command": {"value": cmd}
        })
    };
    let group = json!({
        "type": "LAUNCH_GROUP",
        "launch_group": {
            "executor": {"type": "DEFAULT", "executor_id": {"value": exec_id},
                         "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]},
            "task_group": {"tasks": [task("t1", "echo one; sleep 0.3"), task("t2", "echo two")]}
        }
    });
    let out = c.run_stdin(&["launch", "-"], &group.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    // The foreground shows each task's output after its name.
    assert!(out.stdout.contains("t1 | one"), "{}", out.all());
    assert!(out.stdout.contains("t2 | two"), "{}", out.all());
    for t in ["t1", "t2"] {
        let v = c.ps(&format!("{exec_id}/{t}")).expect("task");
        assert_eq!(v["termination"]["state"], "TASK_FINISHED", "{v}");
    }
    assert_eq!(
        c.ps(&exec_id).expect("executor")["termination"]["state"],
        "TASK_FINISHED"
    );
    assert!(cgroup_dirs(&exec_id).is_empty());
}

/// A task that shares the executor's pid namespace (Mesos `linux_info.share_pid_namespace`) can only join it once
/// the executor's init exists: such a group's tasks are started once the executor runs, and see its pause as
/// their pid 1.
#[test]
fn a_task_sharing_the_executors_pid_namespace_sees_its_pause_as_pid_1() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = crate::common::Containers::new();
    let exec_id = c.id("pidgroup");
    let container = json!({"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
                           "linux_info": {"share_pid_namespace": true}});
    let group = json!({
        "type": "LAUNCH_GROUP",
        "launch_group": {
            "executor": {"type": "DEFAULT", "executor_id": {"value": exec_id},
                         "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]},
            "task_group": {"tasks": [{
                "name": "t1", "task_id": {"value": "t1"}, "agent_id": {"value": "a1"},
                "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 40}}],
                "container": container,
                "command": {"value": "tr '\\0' ' ' < /proc/1/cmdline"}
            }]}
        }
    });
    let out = c.run_stdin(&["launch", "-"], &group.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("ucr pause"), "{}", out.all());
    let v = c.ps(&format!("{exec_id}/t1")).expect("task");
    assert_eq!(v["termination"]["state"], "TASK_FINISHED", "{v}");
    assert!(cgroup_dirs(&exec_id).is_empty());
    assert!(mounts_under(c.dir.path()).is_empty());
}
