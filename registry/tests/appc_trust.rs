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
