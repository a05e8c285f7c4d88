//! The layer applier against hostile layers (fixtures::layers): names and links climbing out, the root
//! replaced, existing entries written through, smuggled PAX records. Nothing outside the root may change
//! (checked on canaries around it). Runs as root.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::{Mode, UnpackError};

use crate::common::{apply, assert_tree, desc, f, shm, tree, D};

#[test]
fn dotdot_and_absolute_names_are_clamped() {
    let r = shm();
    apply(&fx::dotdot_names(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("escaped", &f("1")),
            ("b", &f("2")),
            ("c", D),
            ("c/d", &f("3")),
        ],
    );
    let r = shm();
    apply(&fx::absolute_names(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("abs", D),
            ("abs/file", &f("1")),
            ("etc", D),
            ("etc/passwd", &f("root:x:0:0::/:/bin/sh\n")),
        ],
    );
}

#[test]
fn smuggled_pax_record_is_refused() {
    let r = shm();
    let err = apply(&fx::pax_smuggle(), r.path(), Mode::Overlay).expect_err("must refuse");
    assert!(
        matches!(&err, UnpackError::BadEntry { why, .. } if why.contains("ambiguous")),
        "{err}"
    );
    assert!(!r.path().join("evil").exists());
}

#[test]
fn the_root_is_only_ever_a_directory() {
    for tar in [
        fx::root_symlink(),
        fx::root_file(),
        fx::root_dotdot_symlink(),
    ] {
        let r = shm();
        let err = apply(&tar, r.path(), Mode::Merge).expect_err("must refuse");
        assert!(
            matches!(&err, UnpackError::BadEntry { why, .. } if why.contains("root")),
            "{err}"
        );
        assert!(fs::symlink_metadata(r.path()).expect("lstat").is_dir());
        assert_tree(r.path(), &[]);
    }
    let r = shm();
    apply(&fx::root_dir_meta(), r.path(), Mode::Overlay).expect("applies");
    let m = fs::symlink_metadata(r.path()).expect("lstat");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
        (0o700, 1, 1, 1000)
    );
}

#[test]
fn existing_entries_are_replaced_never_written_through() {
    let outside = tempfile::tempdir().expect("tempdir");
    let canary = outside.path().join("canary");
    fs::write(&canary, "canary").expect("write");
    let r = shm();
    let lower = fx::tar(&[
        E::symlink("victim", canary.to_str().expect("utf8")),
        E::file("a", "a"),
        E::hardlink("b", "a"),
        E::dir("dir"),
        E::file("dir/x", "x"),
    ]);
    apply(&lower, r.path(), Mode::Merge).expect("lower applies");
    let upper = fx::tar(&[
        E::file("victim", "new"),
        E::file("a", "new a"),
        E::file("dir", "no longer a dir"),
    ]);
    apply(&upper, r.path(), Mode::Merge).expect("upper applies");
    assert_eq!(fs::read(&canary).expect("read"), b"canary");
    assert_tree(
        r.path(),
        &[
            ("victim", &f("new")),
            ("a", &f("new a")),
            ("b", &f("a")),
            ("dir", &f("no longer a dir")),
        ],
    );
}

/// Snapshot of everything under `dir` except `skip`, with each entry's mtime, plus `dir` itself.
fn canary_state(dir: &Path, skip: &Path) -> BTreeMap<String, String> {
    let mut all = tree(dir);
    all.retain(|p, _| !dir.join(p).starts_with(skip));
    for (p, d) in all.iter_mut() {
        let m = fs::symlink_metadata(dir.join(p)).expect("lstat");
        write!(d, " mtime={}.{}", m.mtime(), m.mtime_nsec()).expect("fmt");
    }
    let m = fs::symlink_metadata(dir).expect("lstat");
    all.insert(
        ".".into(),
        format!("{} mtime={}.{}", desc(dir), m.mtime(), m.mtime_nsec()),
    );
    all
}

/// A hostile layer: whether it applies on top of `plant`, whether it must apply (or be refused), and
/// where inside the root its payload must then be.
struct Case {
    name: &'static str,
    planted: bool,
    tar: Vec<u8>,
    /// Whether it applies in overlay and in merge mode.
    applies: [bool; 2],
    lands: Option<String>,
}

impl Case {
    fn only_in_merge(self) -> Case {
        Case {
            applies: [false, self.applies[1]],
            ..self
        }
    }
}

fn case(name: &'static str, tar: Vec<u8>, applies: bool, lands: Option<String>) -> Case {
    Case {
        name,
        planted: false,
        tar,
        applies: [applies; 2],
        lands,
    }
}

fn planted(name: &'static str, tar: Vec<u8>, applies: bool, lands: Option<String>) -> Case {
    Case {
        planted: true,
        ..case(name, tar, applies, lands)
    }
}

#[test]
fn hostile_layers_never_touch_anything_outside_the_root() {
    let base = shm();
    let outside = tempfile::tempdir().expect("tempdir in /tmp");
    let out = outside.path().to_str().expect("utf8").to_string();
    let shm_base = base.path().to_str().expect("utf8").to_string();
    fs::write(outside.path().join("canary"), "outside canary").expect("write");
    fs::create_dir(outside.path().join("sub")).expect("mkdir");
    fs::write(base.path().join("canary"), "parent canary").expect("write");
    fs::create_dir(base.path().join("sibling")).expect("mkdir");
    fs::write(base.path().join("sibling/file"), "sibling canary").expect("write");
    let root = base.path().join("root");
    let at = |p: &str| Some(p.trim_start_matches('/').to_string());

    let cases = vec![
        case(
            "symlink_escape_abs",
            fx::symlink_escape_abs(&out),
            false,
            None,
        ),
        case(
            "symlink_escape_rel",
            fx::symlink_escape_rel(&out),
            false,
            None,
        ),
        case(
            "symlink_escape_inside",
            fx::symlink_escape_inside(&out),
            true,
            at(&format!("{out}/x")),
        ),
        case("hardlink_escape", fx::hardlink_escape(), false, None),
        case(
            "hardlink_escape_abs",
            fx::hardlink_escape_abs(),
            false,
            None,
        ),
        case(
            "hardlink_escape_inside",
            fx::hardlink_escape_inside(),
            true,
            at("l2"),
        ),
        case("dotdot_names", fx::dotdot_names(), true, at("escaped")),
        case(
            "absolute_names",
            fx::absolute_names(),
            true,
            at("etc/passwd"),
        ),
        case("root_symlink", fx::root_symlink(), false, None),
        case("root_file", fx::root_file(), false, None),
        case(
            "root_dotdot_symlink",
            fx::root_dotdot_symlink(),
            false,
            None,
        ),
        case("symlinks", fx::symlinks(), true, at("g")),
        case("pax_smuggle", fx::pax_smuggle(), false, None),
        case(
            "abs_into_outside",
            fx::tar(&[E::file(format!("{out}/pwned"), "x")]),
            true,
            at(&format!("{out}/pwned")),
        ),
        case(
            "dotdot_sibling",
            fx::tar(&[
                E::file("../sibling/pwned", "x"),
                E::file("../../canary", "x"),
            ]),
            true,
            at("sibling/pwned"),
        ),
        case(
            "link_to_sibling",
            fx::tar(&[E::symlink("s", "../sibling"), E::file("s/pwned", "x")]),
            false,
            None,
        ),
        case(
            "hardlink_to_parent_canary",
            fx::tar(&[E::hardlink("h", "../canary")]),
            false,
            None,
        ),
        case(
            "hardlink_to_shm_canary",
            fx::tar(&[E::hardlink("h", format!("{shm_base}/canary"))]),
            false,
            None,
        ),
        case(
            "hardlink_to_outside_canary",
            fx::tar(&[E::hardlink("h", format!("{out}/canary"))]),
            false,
            None,
        ),
        case(
            "whiteout_dotdot",
            fx::tar(&[E::whiteout("", "..")]),
            false,
            None,
        ),
        case(
            "whiteout_up_sibling",
            fx::tar(&[E::whiteout("..", "sibling"), E::whiteout("../..", "canary")]),
            true,
            None,
        ),
        case(
            "opaque_up",
            fx::tar(&[E::opaque(".."), E::opaque("../sibling")]),
            true,
            at("sibling"),
        ),
        case(
            "chained_links",
            fx::tar(&[
                E::symlink("a", "b/../../.."),
                E::dir("b"),
                E::symlink("c", "a/../.."),
                E::file("c/sibling/pwned", "x"),
            ]),
            true,
            at("sibling/pwned"),
        ),
        // On top of a lower "rootfs" that already holds symlinks pointing outside.
        planted(
            "replace_symlink_to_canary",
            fx::tar(&[E::file("victim", "replaced")]),
            true,
            at("victim"),
        ),
        planted(
            "file_under_outdir",
            fx::tar(&[E::file("outdir/pwned", "x")]),
            false,
            None,
        ),
        planted(
            "dir_under_outdir",
            fx::tar(&[E::dir("outdir/sub")]),
            false,
            None,
        ),
        planted(
            "whiteout_in_outdir",
            fx::tar(&[
                E::whiteout("outdir", "canary"),
                E::whiteout("outdir", "sub"),
            ]),
            true,
            None,
        )
        .only_in_merge(),
        planted(
            "opaque_outdir",
            fx::tar(&[E::opaque("outdir")]),
            false,
            None,
        ),
        planted(
            "file_under_up",
            fx::tar(&[E::file("up/sibling/pwned", "x")]),
            true,
            at("sibling/pwned"),
        ),
        planted(
            "hardlink_through_outdir",
            fx::tar(&[E::hardlink("hl", "outdir/canary")]),
            false,
            None,
        ),
        planted(
            "hardlink_through_shmdir",
            fx::tar(&[E::hardlink("hl", "shmdir/sibling/file")]),
            false,
            None,
        ),
        planted(
            "hardlink_to_victim_symlink",
            fx::tar(&[E::hardlink("hl", "victim")]),
            true,
            at("hl"),
        ),
        planted(
            "symlink_over_outdir_then_file",
            fx::tar(&[E::symlink("outdir", "/"), E::file("outdir/pwned", "x")]),
            true,
            at("pwned"),
        ),
        planted("opaque_up", fx::tar(&[E::opaque("up")]), true, None),
    ];
    let plant = fx::tar(&[
        E::symlink("victim", format!("{out}/canary")),
        E::symlink("outdir", &out),
        E::symlink("shmdir", &shm_base),
        E::symlink("up", "../../../../.."),
    ]);
    // The root exists before the snapshot and is only emptied between layers, so the parent's own mtime
    // is part of what must not change.
    fs::create_dir(&root).expect("mkdir root");
    let state = || {
        (
            canary_state(base.path(), &root),
            canary_state(outside.path(), Path::new("/nonexistent")),
        )
    };
    let before = state();
    for mode in [Mode::Overlay, Mode::Merge] {
        for c in &cases {
            if c.planted {
                apply(&plant, &root, mode).expect("plant applies");
            }
            let res = apply(&c.tar, &root, mode);
            println!(
                "{} ({mode:?}): {}",
                c.name,
                res.as_ref()
                    .map(|_| "applied".to_string())
                    .unwrap_or_else(|e| e.to_string())
            );
            assert_eq!(
                before,
                state(),
                "layer {} ({mode:?}) changed something outside the root",
                c.name
            );
            assert_eq!(
                res.is_ok(),
                c.applies[usize::from(mode == Mode::Merge)],
                "layer {} ({mode:?}): {res:?}",
                c.name
            );
            if let Some(p) = &c.lands {
                assert!(
                    fs::symlink_metadata(root.join(p)).is_ok(),
                    "layer {} ({mode:?}): no {p} in the root",
                    c.name
                );
            }
            for e in fs::read_dir(&root).expect("read_dir") {
                let p = e.expect("dirent").path();
                if fs::symlink_metadata(&p).expect("lstat").is_dir() {
                    fs::remove_dir_all(&p).expect("cleanup");
                } else {
                    fs::remove_file(&p).expect("cleanup");
                }
            }
        }
    }
}
