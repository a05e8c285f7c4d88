//! The `Containerizer` facade on containers a crash left behind, without starting any: checkpoints written the
//! way earlier processes (and earlier versions of ucr) wrote them, then recovered, destroyed and removed.
//! Root only for the cgroup teardown's reads of /sys/fs/cgroup; nothing is mounted or started.

use std::fs;
use std::path::Path;

use ucr_runtime::containerizer::{Config, SupervisorCommand};
use ucr_runtime::images::{Images, ImagesConfig};
use ucr_runtime::provisioner;
use ucr_runtime::{Containerizer, Paths, State};

struct World {
    dir: tempfile::TempDir,
    c: Containerizer,
}

fn world() -> World {
    let dir = tempfile::Builder::new()
        .prefix("ucr-cz-")
        .tempdir_in("/dev/shm")
        .expect("tempdir");
    let paths = Paths::new(dir.path().join("root"), dir.path().join("run"));
    let images = Images::new(ImagesConfig {
        store_dir: dir.path().join("store"),
        ..ImagesConfig::default()
    })
    .expect("images");
    let c = Containerizer::new(Config::new(paths, SupervisorCommand::default()), images);
    World { dir, c }
}

/// A checkpoint as a process that died while the task ran left it (its owner is a pid that is not alive).
/// `name_field` is `cgroup_name`, or `libcontainer_id` as the first launcher wrote it.
fn checkpoint(w: &World, id: &str, name_field: &str, extra: &str) {
    let run = w.c.paths().runtime(id);
    fs::create_dir_all(&run).expect("runtime dir");
    let sandbox = w.c.paths().sandbox(id);
    fs::create_dir_all(&sandbox).expect("sandbox");
    let cgroup = format!("/ucr/ucr-test-lost-{}-{id}", std::process::id());
    let state = format!(
        r#"{{"id":"{id}","state":"RUNNING","image":"busybox","{name_field}":"{id}","cgroup":"{cgroup}",
        "sandbox":"{}","pid":null,"owner":{{"pid":2147483000,"start_time":1}},"created":1,
        "isolation":[]{extra}}}"#,
        sandbox.display()
    );
    fs::write(w.c.paths().state_file(id), state).expect("state");
}

fn lost_checkpoint(w: &World, id: &str) {
    checkpoint(w, id, "cgroup_name", "");
}

#[test]
fn recovery_finishes_a_lost_container_exactly_once() {
    let w = world();
    lost_checkpoint(&w, "lost-1");
    // The supervisor wrote the task's raw status (exit 1) before it died.
    fs::write(w.c.paths().status_file("lost-1"), "256").expect("status");
    let r = w.c.recover().expect("recover");
    assert_eq!(r.lost, ["lost-1"]);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let st = w.c.container("lost-1").expect("still recorded");
    assert_eq!(st.state, State::Exited);
    assert!(st.torn_down);
    let t = st.termination.expect("termination");
    assert_eq!((t.state.as_str(), t.code), ("TASK_FAILED", 1));
    assert_eq!(w.c.wait("lost-1", None).expect("wait").code, 1);
    // Again: nothing left to finish.
    let again = w.c.recover().expect("recover again");
    assert!(again.lost.is_empty());
    assert_eq!(again.exited, ["lost-1"]);
    w.c.remove("lost-1", false).expect("remove an exited one");
    assert!(!w.c.exists("lost-1"));
}

#[test]
fn destroy_keeps_the_record_and_remove_wants_force_for_a_live_one() {
    let w = world();
    lost_checkpoint(&w, "lost-2");
    let e = w.c.remove("lost-2", false).expect_err("not exited");
    assert!(e.to_string().contains("use --force"), "{e}");
    let t = w.c.destroy("lost-2").expect("destroy");
    assert_eq!(t.reason.as_deref(), Some("REASON_EXECUTOR_TERMINATED"));
    assert_eq!(w.c.container("lost-2").expect("kept").state, State::Exited);
    assert!(w
        .c
        .containers()
        .expect("list")
        .iter()
        .any(|c| c.id == "lost-2"));
}

#[test]
fn checkpoints_of_earlier_versions_still_load() {
    let w = world();
    // Written by the first launcher: `libcontainer_id`, and one flat `isolator_flags` with the ports range.
    let flags = r#","isolator_flags":{"cgroups_enable_cfs":true,"default_pids_limit":64,
        "agent_ports":[[31000,32000]]}"#;
    checkpoint(&w, "old-1", "libcontainer_id", flags);
    let st = w.c.container("old-1").expect("load");
    assert_eq!(st.cgroup_name, "old-1");
    assert!(st.isolator_config.cpu.enable_cfs);
    assert_eq!(st.isolator_config.pids.default_limit, Some(64));
}

#[test]
fn recovery_destroys_a_rootfs_no_container_owns() {
    let w = world();
    let store = w.dir.path().join("store");
    let copy = provisioner::select(Some("copy"), &w.c.paths().provisioner(), &store)
        .expect("copy backend");
    let rootfs = copy.provision("orphan", &[]).expect("provision");
    assert!(rootfs.is_dir());
    lost_checkpoint(&w, "kept");
    let kept = copy.provision("kept", &[]).expect("provision");
    let r = w.c.recover().expect("recover");
    assert_eq!(r.orphans, ["rootfs orphan"]);
    assert!(!Path::new(&rootfs).exists());
    // The lost container's own rootfs went with its teardown, not as an orphan.
    assert!(!kept.exists());
    assert_eq!(copy.list().expect("list"), Vec::<String>::new());
}
