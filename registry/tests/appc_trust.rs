//! AppC signatures made by the real GnuPG and verified by `appc::trust`: a good signature names its key, a
//! changed file or another key's signature fails, and a key is trusted only for the names its directory says.

use ucr_fixtures::gpg::Gpg;
use ucr_registry::appc::trust::Trust;

#[test]
fn gnupg_signatures_verify_only_with_keys_trusted_for_the_name() {
    let d = tempfile::tempdir().expect("dir");
    let data = d.path().join("image.aci");
    std::fs::write(&data, vec![7u8; 300_000]).expect("data");
    let alice = Gpg::new("Alice <alice@example.com>");
    let mallory = Gpg::new("Mallory <mallory@example.com>");
    let sig = std::fs::read(alice.sign(&data)).expect("sig");

    let trust_dir = d.path().join("trust");
    alice.trust(&trust_dir, Some("example.com/worker"));
    let t = Trust::load(&trust_dir).expect("load");
    assert_eq!(
        t.verify("example.com/worker", &data, &sig)
            .expect("verifies"),
        alice.fingerprint()
    );
    let e = t
        .verify("example.com/other", &data, &sig)
        .expect_err("not for that name")
        .to_string();
    assert!(e.contains("no key in --appc_trust_dir"), "{e}");

    std::fs::write(&data, vec![8u8; 300_000]).expect("tamper");
    let e = t
        .verify("example.com/worker", &data, &sig)
        .expect_err("changed")
        .to_string();
    assert!(e.contains("bad signature"), "{e}");

    let forged = std::fs::read(mallory.sign(&data)).expect("sig");
    let e = t
        .verify("example.com/worker", &data, &forged)
        .expect_err("untrusted")
        .to_string();
    assert!(e.contains("does not trust"), "{e}");
    let e = t
        .verify("example.com/worker", &data, b"junk")
        .expect_err("junk")
        .to_string();
    assert!(e.contains("not an armoured OpenPGP signature"), "{e}");

    let root = d.path().join("root-trust");
    mallory.trust(&root, None);
    let t = Trust::load(&root).expect("load");
    assert_eq!(
        t.verify("any.org/x", &data, &forged).expect("root.d"),
        mallory.fingerprint()
    );

    let added = d.path().join("added");
    let fp = Trust::add(&added, "example.com", &alice.public_key()).expect("add");
    assert_eq!(fp, alice.fingerprint());
    let sig = std::fs::read(alice.sign(&data)).expect("sig");
    let t = Trust::load(&added).expect("load");
    assert_eq!(
        t.verify("example.com/worker", &data, &sig)
            .expect("verifies"),
        fp
    );
    std::fs::write(added.join("root.d-broken"), b"not a key").expect("junk key");
    assert!(
        Trust::load(&added).is_err(),
        "an unreadable key file is an error naming it"
    );
}

/// Launches that trust the same key at once (a pod's members pulling one signed image): the key file is always
/// whole, never truncated by another writer, and no temporary file stays behind.
#[test]
fn keys_added_at_once_are_always_whole() {
    let d = tempfile::tempdir().expect("dir");
    let alice = Gpg::new("Alice <alice@example.com>");
    let armored = alice.public_key();
    let dir = d.path().join("trust");
    let file = dir
        .join("prefix.d/example.com")
        .join(format!("{}.asc", alice.fingerprint()));
    let done = std::sync::atomic::AtomicBool::new(false);
    let (torn, failed) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut torn = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(b) = std::fs::read(&file) {
                    torn += usize::from(b != armored);
                }
            }
            torn
        });
        let writers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..300)
                        .filter_map(|_| Trust::add(&dir, "example.com", &armored).err())
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // Every writer's errors, then the reader stopped, whatever happened: nothing here panics first.
        let failed: Vec<String> = writers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["a writer panicked".into()])
            })
            .collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (reader.join().unwrap_or(usize::MAX), failed)
    });
    assert!(
        failed.is_empty(),
        "{} adds failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(torn, 0, "reads of a torn key file");
    let left: Vec<_> = std::fs::read_dir(file.parent().expect("dir"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}
