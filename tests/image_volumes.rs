//! Image volumes (Mesos `Volume.image`, the `volume/image` isolator): an image's root filesystem mounted into
//! the container, read-only or read-write (its writes go to the volume's own copy), at an absolute path or in
//! the sandbox; its image kept from `rmi` while the container lives; nothing of it left once the task ends.

use serde_json::{json, Value};

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

fn image_volume(path: &str, mode: &str, image: &str) -> Value {
    json!({"container_path": path, "mode": mode, "image": {"type": "DOCKER", "docker": {"name": image}}})
}

/// The provisioner's directories (one per root filesystem, the volumes' included).
fn provisioned(c: &Containers) -> Vec<String> {
    std::fs::read_dir(c.root().join("provisioner"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains(' '))
        .collect()
}

#[test]
fn an_image_volume_is_the_images_root_filesystem_read_only_or_its_own_copy() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("imgvol");
    let cmd = "head -1 /data/etc/passwd; touch /data/x 2>/dev/null || echo read-only; \
               head -1 tools/etc/group; touch tools/y && echo writable";
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": id},
        "command": {"value": cmd},
        "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
                      "volumes": [image_volume("/data", "RO", &image), image_volume("tools", "RW", &image)]}}});
    let out = c.run_stdin(&["launch", "-"], &call.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "root:x:0:0:root:/root:/bin/sh",
            "read-only",
            "root:x:0:",
            "writable"
        ],
        "{}",
        out.all()
    );
    // The task's end tears down its root filesystem and its volumes' alike.
    assert!(provisioned(&c).is_empty(), "{:?}", provisioned(&c));
}

#[test]
fn an_image_volumes_image_is_in_use_while_its_container_lives() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("imgvol-held");
    // A task on the host's root: the volume is the only thing that stands on the image.
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": id},
        "command": {"value": "test -f vol/bin/busybox && sleep 60"},
        "container": {"type": "MESOS", "volumes": [image_volume("vol", "RO", &image)]}}});
    let out = c.run_stdin(&["launch", "-d", "-"], &call.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&id);
    assert_eq!(
        provisioned(&c).len(),
        1,
        "the volume's: {:?}",
        provisioned(&c)
    );
    let rmi = c.run_for(&["rmi", &image], CMD_TIMEOUT);
    assert_ne!(rmi.code, 0, "{}", rmi.all());
    assert!(
        rmi.stderr.contains("in use") && rmi.stderr.contains(&id),
        "{}",
        rmi.all()
    );
    c.run_for(&["rm", "--force", &id], CMD_TIMEOUT).ok();
    assert!(provisioned(&c).is_empty(), "{:?}", provisioned(&c));
    assert_eq!(c.run_for(&["rmi", &image], CMD_TIMEOUT).code, 0);
}

/// The agent's recovery destroys rootfs no container owns (a crash's leftovers): never a live container's
/// image volume.
#[test]
fn recovery_keeps_a_live_containers_image_volume() {
    let (_reg, image) = crate::agent::support::busybox_registry();
    let mut a = crate::agent::support::Agent::start(&[]);
    a.wait_ready();
    let id = a.c.id("imgvol-rec");
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": id},
        "command": {"value": "sleep 1000"},
        "container": {"type": "MESOS", "volumes": [image_volume("vol", "RO", &image)]}}});
    let out = a.c.run_stdin(&["launch", "-d", "-"], &call.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    a.c.wait_running(&id);
    a.kill9();
    a.restart();
    a.wait_ready();
    assert_eq!(provisioned(&a.c).len(), 1, "{:?}", provisioned(&a.c));
    let check =
        a.c.run_for(&["exec", &id, "test", "-f", "vol/bin/busybox"], CMD_TIMEOUT);
    assert_eq!(check.code, 0, "{}", check.all());
    a.c.run_for(&["rm", "--force", &id], CMD_TIMEOUT).ok();
    assert!(provisioned(&a.c).is_empty(), "{:?}", provisioned(&a.c));
}
