//! Conformance suite for the provisioner backends: the same cases run against `overlay` and `copy`
//! (`conformance!` below), as root on tmpfs, with layers built by the real applier in the store's overlay
//! form. Each case asserts on the content it expects, so a backend that does nothing fails them all.
//! Plus overlay-only cases: a 70-layer image whose lowerdir string would not fit a page, and `select`.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::Mode;
use support::{is_mounted, read, snapshot, tree, xattr, Env};
use ucr_fixtures::layers::{self as fx, tar, CAP_VALUE, E, MTIME};
use ucr_runtime::provisioner::{self, ProvisionError};

/// The cases, each a function of the backend's name.
mod cases {
    use super::*;

    pub fn merges_layers(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[
            tar(&[
                E::dir("a"),
                E::file("a/x", "x0"),
                E::file("b", "b0"),
                E::file("shared", "lower"),
            ]),
            tar(&[
                E::dir("a"),
                E::file("a/y", "y1"),
                E::file("c", "c1"),
                E::file("shared", "upper"),
            ]),
        ]);
        let r = env.provision("merge", &layers);
        assert_eq!(tree(&r), ["a/", "a/x", "a/y", "b", "c", "shared"]);
        assert_eq!(read(r.join("a/x")), "x0");
        assert_eq!(read(r.join("a/y")), "y1");
        assert_eq!(read(r.join("b")), "b0");
        assert_eq!(read(r.join("c")), "c1");
        assert_eq!(read(r.join("shared")), "upper");
    }

    /// The same layer twice in one image (same diff_id): the topmost occurrence wins.
    pub fn repeated_layer(b: &str) {
        let mut env = Env::new(b);
        let a = env.layer(&tar(&[
            E::file("x", "a"),
            E::file("only-a", "a"),
            E::whiteout("", "only-b"),
        ]));
        let bl = env.layer(&tar(&[E::file("x", "b"), E::file("only-b", "b")]));
        let r = env.provision("rep", &[a.clone(), bl, a]);
        assert_eq!(tree(&r), ["only-a", "x"]);
        assert_eq!(read(r.join("x")), "a");
    }

    pub fn whiteout_hides_lower(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&fx::whiteout_layers());
        let r = env.provision("wh", &layers);
        // No whiteout device may show either.
        assert_eq!(tree(&r), ["a/", "a/c", "a/new", "keep"]);
        assert_eq!(read(r.join("a/new")), "n");
    }

    pub fn opaque_dir_hides_lower_keeps_own(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&fx::opaque_layers());
        let r = env.provision("opq", &layers);
        assert_eq!(
            tree(&r),
            ["o/", "o/early", "o/sub/", "o/sub/w", "other/", "other/z"]
        );
        assert_eq!(read(r.join("o/early")), "e");
        assert_eq!(read(r.join("o/sub/w")), "w");
    }

    pub fn types_replace_each_other(b: &str) {
        let mut env = Env::new(b);
        let tars = [
            tar(&[
                E::file("f", "file"),
                E::dir("d"),
                E::file("d/inner", "inner"),
                E::dir("d2"),
                E::file("d2/f", "f"),
                E::symlink("s", "d2"),
            ]),
            tar(&[
                E::dir("f"),
                E::file("f/child", "child"),
                E::file("d", "now a file"),
                E::symlink("d2", "/"),
                E::file("s", "file now"),
            ]),
        ];
        let layers = env.layers(&tars);
        let r = env.provision("types", &layers);
        assert_eq!(tree(&r), ["d", "d2", "f/", "f/child", "s"]);
        assert_eq!(read(r.join("f/child")), "child");
        assert_eq!(read(r.join("d")), "now a file");
        assert_eq!(
            fs::read_link(r.join("d2")).expect("d2 link"),
            Path::new("/")
        );
        assert!(fs::symlink_metadata(r.join("s")).expect("s").is_file());
        assert_eq!(read(r.join("s")), "file now");
    }

    pub fn lower_symlinks_never_followed(b: &str) {
        let mut env = Env::new(b);
        let outside = env.path("outside");
        fs::create_dir(&outside).expect("outside");
        fs::write(outside.join("canary"), "untouched").expect("canary");
        let host = format!("/ucr-provisioner-canary-{}-{b}", std::process::id());
        let out = outside.to_str().expect("utf-8 tempdir");
        let layers = env.layers(&[
            tar(&[
                // rootfs/../../.. is the tempdir: `up` points at `outside` from inside the rootfs.
                E::symlink("up", "../../../outside"),
                E::symlink("abs", out),
                E::symlink("root", "/"),
                E::symlink("lnk", format!("{out}/canary")),
            ]),
            tar(&[
                E::dir("up"),
                E::file("up/canary", "evil"),
                E::dir("abs"),
                E::file("abs/canary", "evil"),
                E::dir("root"),
                E::file(format!("root{host}"), "evil"),
                E::file("lnk", "replaced"),
            ]),
        ]);
        let r = env.backend.provision("sym", &layers);
        // Checked (and cleaned) before anything else can fail the test.
        let escaped = Path::new(&host).exists();
        let _ = fs::remove_file(&host);
        assert!(!escaped, "{host} was written on the host");
        let r = r.expect("provision");
        assert_eq!(tree(&outside), ["canary"]);
        assert_eq!(read(outside.join("canary")), "untouched");
        for d in ["up", "abs", "root"] {
            assert!(fs::symlink_metadata(r.join(d)).expect(d).is_dir(), "{d}");
        }
        assert_eq!(read(r.join("up/canary")), "evil");
        assert_eq!(read(r.join("abs/canary")), "evil");
        assert_eq!(read(r.join("lnk")), "replaced");
        assert!(fs::symlink_metadata(r.join("lnk")).expect("lnk").is_file());
    }

    pub fn metadata_preserved(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[
            tar(&[
                E::dir("bin"),
                E::file("bin/su", "su").mode(0o4755),
                E::file("bin/wall", "wall").mode(0o2755).owner(0, 5),
                E::file("bin/ping", "ping")
                    .mode(0o755)
                    .xattr("security.capability", CAP_VALUE)
                    .xattr("user.comment", "hello"),
                E::symlink("bin/sh", "busybox").owner(7, 8),
                E::dir("tmp").mode(0o1777),
                E::dir("home").mtime(1000),
                E::dir("home/u").owner(1000, 1001).mode(0o700).mtime(2000),
                E::file("home/u/f", "f")
                    .owner(1000, 1001)
                    .mode(0o640)
                    .mtime(1234),
                E::dir("d").xattr("user.dir", "1"),
                E::dir("hl"),
                E::file("hl/a", "shared"),
                E::hardlink("hl/b", "hl/a"),
                E::hardlink("hl2", "hl/a"),
                E::dir("dev"),
                E::char_dev("dev/null", 1, 3),
                E::block_dev("dev/loop9", 7, 9).owner(0, 6),
                E::dir("run"),
                E::fifo("run/fifo").mode(0o600),
            ]),
            // The upper `home` is what shows (overlayfs) or is set last (copy): its mtime wins.
            tar(&[E::dir("home").mtime(3000), E::file("home/new", "n")]),
        ]);
        let r = env.provision("meta", &layers);
        let m = |p: &str| fs::symlink_metadata(r.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        let mode = |p: &str| m(p).mode() & 0o7777;
        assert_eq!(mode("bin/su"), 0o4755);
        assert_eq!((mode("bin/wall"), m("bin/wall").gid()), (0o2755, 5));
        assert_eq!(mode("tmp"), 0o1777);
        let u = m("home/u");
        assert_eq!(
            (u.uid(), u.gid(), u.mode() & 0o7777, u.mtime()),
            (1000, 1001, 0o700, 2000)
        );
        let f = m("home/u/f");
        assert_eq!(
            (f.uid(), f.gid(), f.mode() & 0o7777, f.mtime()),
            (1000, 1001, 0o640, 1234)
        );
        assert_eq!(m("home").mtime(), 3000);
        assert_eq!(read(r.join("home/new")), "n");
        assert_eq!(m("bin/su").mtime(), i64::try_from(MTIME).expect("mtime"));
        assert_eq!(
            fs::read_link(r.join("bin/sh")).expect("sh"),
            Path::new("busybox")
        );
        assert_eq!((m("bin/sh").uid(), m("bin/sh").gid()), (7, 8));
        assert_eq!(
            xattr(&r.join("bin/ping"), "security.capability"),
            Some(CAP_VALUE.to_vec())
        );
        assert_eq!(
            xattr(&r.join("bin/ping"), "user.comment"),
            Some(b"hello".to_vec())
        );
        assert_eq!(xattr(&r.join("d"), "user.dir"), Some(b"1".to_vec()));
        let ino = m("hl/a").ino();
        assert_eq!((m("hl/b").ino(), m("hl2").ino()), (ino, ino), "hard links");
        assert_eq!(m("hl/a").nlink(), 3);
        assert_eq!(read(r.join("hl2")), "shared");
        assert!(m("run/fifo").file_type().is_fifo());
        assert_eq!(mode("run/fifo"), 0o600);
        assert!(m("dev/null").file_type().is_char_device());
        assert_eq!(m("dev/null").rdev(), rustix::fs::makedev(1, 3));
        assert!(m("dev/loop9").file_type().is_block_device());
        assert_eq!(
            (m("dev/loop9").rdev(), m("dev/loop9").gid()),
            (rustix::fs::makedev(7, 9), 6)
        );
    }

    pub fn writes_never_change_layers(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[
            tar(&[
                E::dir("etc"),
                E::file("etc/passwd", "root:x:0:0"),
                E::file("etc/gone", "g"),
                E::dir("srv"),
                E::file("srv/data", "d").mode(0o600),
                E::hardlink("srv/link", "srv/data"),
            ]),
            tar(&[E::dir("etc"), E::file("etc/hosts", "127.0.0.1")]),
        ]);
        let before: Vec<_> = layers.iter().map(|l| snapshot(l)).collect();
        let r = env.provision("w", &layers);
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(r.join("etc/passwd"))
            .expect("open");
        f.write_all(b"\nuser:x:1000").expect("append");
        drop(f);
        fs::write(r.join("etc/hosts"), "::1").expect("rewrite");
        fs::write(r.join("srv/link"), "through the link").expect("write link");
        fs::remove_file(r.join("etc/gone")).expect("rm");
        fs::set_permissions(r.join("srv/data"), fs::Permissions::from_mode(0o644)).expect("chmod");
        std::os::unix::fs::chown(r.join("etc/passwd"), Some(1), Some(1)).expect("chown");
        fs::create_dir(r.join("new")).expect("mkdir");
        fs::rename(r.join("etc/hosts"), r.join("new/hosts")).expect("rename");
        std::os::unix::fs::symlink("/", r.join("etc/root")).expect("symlink");
        assert_eq!(read(r.join("etc/passwd")), "root:x:0:0\nuser:x:1000");
        assert_eq!(read(r.join("new/hosts")), "::1");
        let after: Vec<_> = layers.iter().map(|l| snapshot(l)).collect();
        assert_eq!(before, after, "a write into the rootfs changed a layer");
    }

    pub fn containers_are_independent(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[tar(&[E::file("f", "orig"), E::file("g", "g")])]);
        let a = env.provision("a", &layers);
        let c = env.provision("c", &layers);
        assert_ne!(a, c);
        fs::write(a.join("f"), "changed in a").expect("write");
        fs::remove_file(c.join("g")).expect("rm");
        fs::write(c.join("only-c"), "c").expect("write");
        assert_eq!(read(c.join("f")), "orig");
        assert_eq!(read(a.join("g")), "g");
        assert_eq!(tree(&a), ["f", "g"]);
        assert_eq!(tree(&c), ["f", "only-c"]);
    }

    pub fn destroy_unmounts_and_removes(b: &str) {
        let mut env = Env::new(b);
        let outside = env.path("outside");
        fs::create_dir(&outside).expect("outside");
        fs::write(outside.join("canary"), "untouched").expect("canary");
        let layers = env.layers(&[tar(&[E::dir("etc"), E::file("etc/f", "f")])]);
        let r = env.provision("gone", &layers);
        assert_eq!(is_mounted(&r), b == "overlay", "mounted iff overlay");
        // What a container may leave behind: read-only trees, nodes, links out, deep nesting.
        fs::create_dir_all(r.join("ro/sub")).expect("mkdir");
        fs::write(r.join("ro/sub/file"), "x").expect("write");
        fs::set_permissions(r.join("ro/sub"), fs::Permissions::from_mode(0o000)).expect("chmod");
        fs::set_permissions(r.join("ro"), fs::Permissions::from_mode(0o500)).expect("chmod");
        let mknod = |p: &str, kind, dev| {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                r.join(p),
                kind,
                Mode::from_raw_mode(0o644),
                dev,
            )
            .expect(p)
        };
        mknod("fifo", rustix::fs::FileType::Fifo, 0);
        mknod(
            "null",
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::makedev(1, 3),
        );
        std::os::unix::fs::symlink(&outside, r.join("out")).expect("symlink");
        std::os::unix::fs::symlink("/", r.join("slash")).expect("symlink");
        fs::create_dir_all(r.join("deep").join("d/".repeat(60))).expect("deep");
        fs::remove_file(r.join("etc/f")).expect("whiteout in upper");
        env.destroy("gone");
        assert!(!is_mounted(&r), "still mounted");
        assert!(!env.root.join("gone").exists(), "state left behind");
        assert!(env.list().is_empty());
        assert_eq!(tree(&outside), ["canary"]);
        assert_eq!(read(outside.join("canary")), "untouched");
        assert_eq!(tree(&layers[0]), ["etc/", "etc/f"]);
    }

    pub fn destroy_while_busy(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[tar(&[E::file("f", "f")])]);
        let r = env.provision("busy", &layers);
        let held = fs::File::open(r.join("f")).expect("open");
        env.destroy("busy");
        assert!(!is_mounted(&r));
        assert!(!env.root.join("busy").exists());
        drop(held);
    }

    pub fn destroy_is_idempotent(b: &str) {
        let mut env = Env::new(b);
        env.destroy("never-provisioned");
        let layers = env.layers(&[tar(&[E::file("f", "f")])]);
        env.provision("twice", &layers);
        env.destroy("twice");
        env.destroy("twice");
        // What a crash in the middle of `provision` leaves.
        fs::create_dir_all(env.root.join("half/upper/x")).expect("half");
        fs::create_dir_all(env.root.join("half/rootfs")).expect("half");
        fs::write(env.root.join("half/upper/x/f"), "f").expect("half");
        assert_eq!(env.list(), ["half"]);
        env.destroy("half");
        assert!(env.list().is_empty());
        assert!(!env.root.join("half").exists());
    }

    pub fn list_reports_ids(b: &str) {
        let mut env = Env::new(b);
        assert!(env.list().is_empty());
        let layers = env.layers(&[tar(&[E::file("f", "f")])]);
        env.provision("b-2", &layers);
        env.provision("a-1", &layers);
        fs::create_dir_all(env.root.join("not an id")).expect("mkdir");
        assert_eq!(env.list(), ["a-1", "b-2"]);
        env.destroy("a-1");
        assert_eq!(env.list(), ["b-2"]);
    }

    pub fn odd_ids(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[tar(&[E::file("f", "lower")]), tar(&[E::file("g", "upper")])]);
        // The longest id, made of characters overlay's option parser would trip on.
        let long = ":@+=,\\#%'\"x".repeat(22);
        assert_eq!(long.len(), 242);
        for id in ["a:b@c+d=e", "x,y\\z", ".dot", "café", long.as_str()] {
            let r = env.provision(id, &layers);
            assert_eq!(r, env.root.join(id).join("rootfs"));
            assert_eq!(
                (read(r.join("f")), read(r.join("g"))),
                ("lower".into(), "upper".into())
            );
            fs::write(r.join("w"), id).expect("write");
            assert_eq!(
                read(env.root.join(id).join(if b == "overlay" {
                    "upper/w"
                } else {
                    "rootfs/w"
                })),
                id
            );
            assert!(env.list().iter().any(|l| l == id), "{id} not listed");
            env.destroy(id);
            assert!(!env.root.join(id).exists(), "{id}");
            assert!(!is_mounted(&r));
        }
    }

    pub fn bad_ids_and_reuse_refused(b: &str) {
        let mut env = Env::new(b);
        let layers = env.layers(&[tar(&[E::file("f", "f")])]);
        for id in ["", ".", "..", "a/b", "../x", "a b", "a\nb"] {
            let e = env.backend.provision(id, &layers).expect_err(id);
            assert!(matches!(e, ProvisionError::InvalidId { .. }), "{id:?}: {e}");
            let e = env.backend.destroy(id).expect_err(id);
            assert!(matches!(e, ProvisionError::InvalidId { .. }), "{id:?}: {e}");
        }
        let r = env.provision("one", &layers);
        let e = env
            .backend
            .provision("one", &layers)
            .expect_err("second provision");
        assert!(matches!(e, ProvisionError::AlreadyExists { .. }), "{e}");
        assert_eq!(read(r.join("f")), "f", "the first rootfs must survive");
        assert_eq!(is_mounted(&r), b == "overlay");
    }

    pub fn failed_provision_leaves_nothing(b: &str) {
        let env = Env::new(b);
        let missing = env.path("no-such-layer");
        let e = env
            .backend
            .provision("bad", &[missing])
            .expect_err("missing layer");
        assert!(e.to_string().contains("no-such-layer"), "{e}");
        assert!(env.list().is_empty());
        assert!(!env.root.join("bad").exists());
    }

    pub fn no_layers(b: &str) {
        let env = Env::new(b);
        let r = env.provision("empty", &[]);
        assert!(r.is_dir());
        assert!(tree(&r).is_empty());
        fs::write(r.join("x"), "x").expect("writable");
    }
}

macro_rules! conformance {
    ($backend:ident, $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::cases::$case(stringify!($backend));
                }
            )*
        }
    };
}

macro_rules! backend_suite {
    ($backend:ident) => {
        conformance!(
            $backend,
            merges_layers,
            repeated_layer,
            whiteout_hides_lower,
            opaque_dir_hides_lower_keeps_own,
            types_replace_each_other,
            lower_symlinks_never_followed,
            metadata_preserved,
            writes_never_change_layers,
            containers_are_independent,
            destroy_unmounts_and_removes,
            destroy_while_busy,
            destroy_is_idempotent,
            list_reports_ids,
            odd_ids,
            bad_ids_and_reuse_refused,
            failed_provision_leaves_nothing,
            no_layers,
        );
    };
}

backend_suite!(overlay);
backend_suite!(copy);

/// 70 layers under long paths: the legacy `lowerdir=a:b:…` string would be about 13 KiB, and half the
/// paths are longer than `fsconfig`'s 255-byte strings.
#[test]
fn overlay_mounts_seventy_long_layers() {
    let mut env = Env::new("overlay");
    let medium = env.path(&"m".repeat(100));
    let long = env.path(&format!("{}/{}", "l".repeat(200), "n".repeat(100)));
    let mut layers = Vec::new();
    for i in 0..70 {
        let mut es = vec![
            E::file("version", format!("layer {i}")),
            E::file(format!("f{i}"), "x"),
        ];
        if i == 69 {
            es.push(E::whiteout("", "f0"));
        }
        let base = if i % 2 == 0 { &medium } else { &long };
        layers.push(env.layer_in(base, &tar(&es)));
    }
    let joined: usize = layers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(joined > 4096 * 3, "{joined}");
    assert!(layers.iter().any(|l| l.as_os_str().len() > 255));
    let r = env.provision("seventy", &layers);
    assert!(is_mounted(&r));
    assert_eq!(read(r.join("version")), "layer 69");
    let names = tree(&r);
    assert_eq!(names.len(), 70, "{names:?}"); // f1..f69 and version
    assert!(!r.join("f0").exists());
    assert_eq!(read(r.join("f1")), "x");
    env.destroy("seventy");
    assert!(!is_mounted(&r));
}

#[test]
fn select_probes_and_names() {
    let env = Env::new("copy");
    let root = env.path("probed");
    let store = env.path("store");
    fs::create_dir_all(&store).expect("store");
    let chosen = provisioner::select(None, &root, &store).expect("probe");
    assert_eq!(chosen.name(), "overlay", "tmpfs supports overlay");
    assert_eq!(tree(&root), [".backend probe"], "only the cache is left");
    let again = provisioner::select(None, &root, &store).expect("cached probe");
    assert_eq!(again.name(), "overlay");
    assert_eq!(
        provisioner::select(Some("copy"), &root, &store)
            .expect("copy")
            .name(),
        "copy"
    );
    let e = provisioner::select(Some("bogus"), &root, &store)
        .err()
        .expect("bogus is an error");
    let msg = e.to_string();
    assert!(
        msg.contains("bogus") && msg.contains("overlay") && msg.contains("copy"),
        "{msg}"
    );
}
