//! The layer applier's errors: unsupported entry types, truncated and corrupt streams, and messages that
//! name the layer entry and the host path. Runs as root.

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::{Mode, UnpackError};

use crate::common::{apply, shm};

#[test]
fn unsupported_types_and_broken_streams_are_errors() {
    let r = shm();
    let err = apply(&fx::unsupported_type(), r.path(), Mode::Overlay).expect_err("refused");
    assert!(
        err.to_string().contains("`label`") && err.to_string().contains("`V`"),
        "{err}"
    );

    let mut tar = fx::tar(&[E::file("f", vec![b'x'; 4000])]);
    tar.truncate(2048);
    let err = apply(&tar, shm().path(), Mode::Overlay).expect_err("truncated");
    assert!(err.to_string().contains("`f`"), "{err}");

    let mut tar = fx::tar(&[E::file("f", "x")]);
    tar[0] = b'g'; // the checksum no longer matches
    let err = apply(&tar, shm().path(), Mode::Overlay).expect_err("bad checksum");
    assert!(matches!(err, UnpackError::Stream { .. }), "{err}");
}

#[test]
fn errors_name_the_entry_and_the_host_path() {
    let r = shm();
    let err = apply(&fx::hardlink_escape(), r.path(), Mode::Overlay).expect_err("no target");
    let msg = err.to_string();
    assert!(
        msg.starts_with("layer entry `l1`") || msg.contains("`../../etc/passwd`"),
        "{msg}"
    );
    match err {
        UnpackError::Io { host, .. } => assert_eq!(host, r.path().join("etc/passwd")),
        other => panic!("expected Io, got {other:?}"),
    }
    let err = apply(
        &fx::symlink_escape_abs("/tmp/nowhere"),
        r.path(),
        Mode::Overlay,
    )
    .expect_err("dangling");
    assert!(
        err.to_string().contains("evil/x") && err.to_string().contains("symlink"),
        "{err}"
    );
}
