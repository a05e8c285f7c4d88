//! The layer applier on whiteouts, opaque directories and file/dir replacement across layers, in merge
//! and overlay form; the overlay form mounted with overlayfs must show exactly the merged form. Runs as
//! root: it sets trusted.* xattrs, creates whiteout device nodes and mounts overlayfs.

use std::fs;

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::Mode;

use crate::common::{apply, apply_all, assert_tree, f, shm, tree, D, WH};

#[test]
fn whiteouts_merge_and_overlay() {
    let layers = fx::whiteout_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[
            ("a", D),
            ("a/c", &f("c")),
            ("a/new", &f("n")),
            ("keep", &f("k")),
        ],
    );

    let o = shm();
    apply(&layers[1], o.path(), Mode::Overlay).expect("applies");
    assert_tree(
        o.path(),
        &[("a", D), ("a/b", WH), ("a/d", WH), ("a/new", &f("n"))],
    );
}

#[test]
fn opaque_merge_and_overlay() {
    let layers = fx::opaque_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[
            ("o", D),
            ("o/early", &f("e")),
            ("o/sub", D),
            ("o/sub/w", &f("w")),
            ("other", D),
            ("other/z", &f("z")),
        ],
    );

    let o = shm();
    apply(&layers[1], o.path(), Mode::Overlay).expect("applies");
    let opaque = format!("{D} trusted.overlay.opaque=y");
    assert_tree(
        o.path(),
        &[
            ("o", &opaque),
            ("o/early", &f("e")),
            ("o/sub", D),
            ("o/sub/w", &f("w")),
        ],
    );
}

#[test]
fn file_dir_replacement_across_layers() {
    let layers = fx::replace_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[("f", D), ("f/child", &f("child")), ("d", &f("now a file"))],
    );
}

/// Each multi-layer fixture in overlay form, mounted with overlayfs, must show exactly the merged form.
#[test]
fn overlay_form_mounts_to_the_merged_form() {
    let cases = [
        fx::whiteout_layers(),
        fx::opaque_layers(),
        fx::replace_layers(),
        vec![
            fx::tar(&[E::file("a/x", "lower"), E::file("b/y", "lower")]),
            fx::whiteout_same_layer(),
        ],
    ];
    for layers in cases {
        let merged = shm();
        apply_all(&layers, merged.path(), Mode::Merge);
        let dirs: Vec<_> = layers
            .iter()
            .map(|l| {
                let d = shm();
                apply(l, d.path(), Mode::Overlay).expect("applies");
                d
            })
            .collect();
        let lower: Vec<String> = dirs
            .iter()
            .rev()
            .map(|d| d.path().display().to_string())
            .collect();
        let mnt = shm();
        let opts = std::ffi::CString::new(format!("lowerdir={}", lower.join(":"))).expect("no NUL");
        rustix::mount::mount(
            "overlay",
            mnt.path(),
            "overlay",
            rustix::mount::MountFlags::RDONLY,
            opts.as_c_str(),
        )
        .expect("mount overlayfs (needs root)");
        let seen = tree(mnt.path());
        rustix::mount::unmount(mnt.path(), rustix::mount::UnmountFlags::DETACH).expect("umount");
        assert_eq!(
            seen,
            tree(merged.path()),
            "overlay view vs merged for layers {lower:?}"
        );
    }
}

#[test]
fn whiteout_keeps_entries_of_the_same_layer() {
    for mode in [Mode::Merge, Mode::Overlay] {
        let r = shm();
        apply(&fx::whiteout_same_layer(), r.path(), mode).expect("applies");
        assert_tree(
            r.path(),
            &[("a", D), ("a/x", &f("x")), ("b", D), ("b/y", &f("y"))],
        );
    }
}

#[test]
fn aufs_metadata_is_skipped() {
    let tar = fx::tar(&[
        E::dir(".wh..wh.plnk"),
        E::file(".wh..wh.plnk/1234.5678", "hardlink stash"),
        E::file(".wh..wh.aufs", ""),
        E::dir("a/.wh..wh.orph"),
        E::file("b", "b"),
    ]);
    for mode in [Mode::Overlay, Mode::Merge] {
        let r = shm();
        apply(&tar, r.path(), mode).expect("applies");
        assert_tree(r.path(), &[("b", &f("b"))]);
    }
}

#[test]
fn whiteout_removes_a_tree_deeper_than_path_max() {
    use rustix::fs::{mkdirat, openat, Mode as M, OFlags};
    let r = shm();
    fs::create_dir(r.path().join("deep")).expect("mkdir");
    let mut fd = openat(
        rustix::fs::CWD,
        r.path().join("deep").as_path(),
        OFlags::DIRECTORY,
        M::empty(),
    )
    .expect("open");
    for _ in 0..3000 {
        mkdirat(&fd, "dd", M::from_raw_mode(0o755)).expect("mkdirat");
        fs::write(
            format!(
                "/proc/self/fd/{}/file",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ),
            "x",
        )
        .expect("write");
        fd = openat(&fd, "dd", OFlags::DIRECTORY, M::empty()).expect("openat");
    }
    drop(fd);
    apply(&fx::tar(&[E::whiteout("", "deep")]), r.path(), Mode::Merge).expect("applies");
    assert_tree(r.path(), &[]);
}
