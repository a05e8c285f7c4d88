//! A full disk (issue 18 item 3): the store on a small tmpfs, a pull, a load and an unpack that do not fit.
//! Each fails with one line naming ENOSPC ("No space left on device") and the path; nothing is registered, the
//! staging directory is emptied, `store check` is clean, and once space is freed the same pull works.

use std::path::{Path, PathBuf};
use std::process::Command;

use ucr_fixtures::image::{
    busybox_layer, random_files_layer, Compression, ImageBuilder, ManifestFormat,
};
use ucr_fixtures::registry::Registry;

use crate::common::{Run, Ucr};

/// A tmpfs of `mb` MiB mounted on a fresh directory; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(mb: u32) -> SmallDisk {
        let dir = tempfile::Builder::new()
            .prefix("ucr-full-")
            .tempdir()
            .expect("dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(ok.success(), "mount a tmpfs");
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grow(&self, mb: u32) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mb}m")])
            .arg(self.path())
            .status()
            .expect("remount");
        assert!(ok.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn ucr_on(disk: &Path, u: &Ucr, args: &[&str]) -> Run {
    let root = disk.join("root");
    let all = [&["--root", root.to_str().expect("utf8")][..], args].concat();
    u.run(&all)
}

fn staging_empty(root: &Path) -> bool {
    std::fs::read_dir(root.join("store/docker/staging"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[track_caller]
fn assert_enospc(out: &Run, disk: &Path) {
    assert_ne!(out.code, 0, "{}", out.all());
    let line = out.stderr.trim_end();
    assert!(line.contains("No space left on device"), "{}", out.all());
    assert!(
        line.contains(disk.to_str().expect("utf8")),
        "names the path: {}",
        out.all()
    );
    assert_eq!(line.lines().count(), 1, "{}", out.all());
}

/// A 24 MiB image of random files (does not compress): it cannot fit in 16 MiB.
fn big_image_registry() -> (Registry, String) {
    let reg = Registry::plain();
    let img = ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .layer_tar(random_files_layer(3, 300, 24 << 20), Compression::Gzip)
        .cmd(["/bin/sh"])
        .build(ManifestFormat::Oci);
    reg.push("big", "1", &img);
    let image = format!("{}/big:1", reg.host);
    (reg, image)
}

#[test]
fn a_pull_that_does_not_fit_fails_naming_enospc_and_leaves_the_store_as_it_was() {
    let (_reg, image) = big_image_registry();
    let disk = SmallDisk::new(16);
    let u = Ucr::new();
    let root: PathBuf = disk.path().join("root");
    let out = ucr_on(disk.path(), &u, &["pull", &image]);
    assert_enospc(&out, disk.path());
    assert!(staging_empty(&root), "staging emptied");
    let images = ucr_on(disk.path(), &u, &["images", "--json"]).ok();
    assert_eq!(images.stdout.trim(), "", "nothing registered");
    ucr_on(disk.path(), &u, &["store", "check"]).ok();

    // The same for an unpack of a stored image into the small disk, then a load that does not fit.
    let big = Ucr::new();
    big.run(&["pull", &image]).ok();
    let into = disk.path().join("unpacked");
    let out = big.run(&["unpack", &image, into.to_str().expect("utf8")]);
    assert_enospc(&out, disk.path());
    let archive = big.dir.path().join("big.tar");
    big.run(&["save", &image, "-o", archive.to_str().expect("utf8")])
        .ok();
    let _ = std::fs::remove_dir_all(&into);
    let out = ucr_on(disk.path(), &u, &["load", archive.to_str().expect("utf8")]);
    assert_enospc(&out, disk.path());
    assert!(staging_empty(&root), "staging emptied after the load");
    ucr_on(disk.path(), &u, &["store", "check"]).ok();

    // Room again: the same pull works, reusing nothing half-written.
    disk.grow(128);
    ucr_on(disk.path(), &u, &["pull", &image]).ok();
    ucr_on(disk.path(), &u, &["store", "check"]).ok();
}
