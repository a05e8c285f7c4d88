//! The client MUSTs of layer.md (applying changesets) and of the compression formats layers come in
//! (RFC 8878 zstd, RFC 1952 gzip), one test per clause, named after it. Whiteout clauses ("MUST only apply to
//! resources in lower/parent layers", "the whiteout itself MUST also be hidden") are in `unpack_whiteouts`.

use std::io::{Read, Write};

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::{decoder, Compression, Mode};

use crate::common::{apply, apply_all, assert_tree, f, shm, D};

fn decode(stream: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    decoder(stream, Compression::sniff(stream))?.read_to_end(&mut out)?;
    Ok(out)
}

/// RFC 8878 3.1.1: a frame with Content_Checksum_Flag carries the XXH64 of its content; a decoder that
/// finds another value has corrupt data.
#[test]
fn rfc8878_a_content_checksum_that_does_not_match_is_refused() {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).expect("encoder");
    enc.include_checksum(true).expect("checksum flag");
    enc.write_all(b"checked content").expect("write");
    let mut frame = enc.finish().expect("finish");
    assert_eq!(decode(&frame).expect("intact"), b"checked content");
    let last = frame.len() - 1;
    frame[last] ^= 0xff;
    assert!(decode(&frame).is_err(), "a wrong checksum was accepted");
}

/// RFC 1952 2.3.1: each member ends with the CRC-32 and the length (mod 2^32) of its data.
#[test]
fn rfc1952_a_member_crc_or_size_that_does_not_match_is_refused() {
    let member = fx::gzip(b"member data");
    for at in [member.len() - 8, member.len() - 1] {
        let mut bad = member.clone();
        bad[at] ^= 0x01;
        assert!(
            decode(&bad).is_err(),
            "a corrupt trailer byte at {at} was accepted"
        );
    }
}

/// layer.md: a changeset MUST NOT repeat a path; when one does anyway (some writers do, and docker and
/// containerd apply them), each entry is applied over the last as "changeset over existing files" says, so
/// the last wins, the same in both forms: the two forms never disagree about a layer.
#[test]
fn layer_md_a_repeated_path_is_applied_over_the_earlier_entry_in_both_forms() {
    let tar = fx::tar(&[
        E::file("a", "one"),
        E::file("a", "two"),
        E::dir("d").mode(0o700),
        E::dir("d").mode(0o755),
        E::symlink("l", "/etc/passwd"),
        E::file("l", "plain"),
    ]);
    for mode in [Mode::Merge, Mode::Overlay] {
        let r = shm();
        apply(&tar, r.path(), mode).expect("applies");
        assert_tree(r.path(), &[("a", &f("two")), ("d", D), ("l", &f("plain"))]);
    }
}

/// layer.md "Changeset over existing files": a directory over a directory takes the entry's attributes and
/// keeps its children; anything else is unlinked and recreated, so a file over a lower symlink is not
/// written through it, and a file over one name of a lower hardlink pair leaves the other name's content.
#[test]
fn layer_md_changeset_over_existing_files_replaces_attributes_or_unlinks() {
    let lower = fx::tar(&[
        E::dir("d").mode(0o700).owner(7, 7),
        E::file("d/keep", "k"),
        E::file("target", "outside"),
        E::symlink("link", "target"),
        E::file("x", "old"),
        E::hardlink("y", "x"),
    ]);
    let upper = fx::tar(&[
        E::dir("d").mode(0o750),
        E::file("link", "new"),
        E::file("x", "new"),
    ]);
    let r = shm();
    apply_all(&[lower, upper], r.path(), Mode::Merge);
    let tree = crate::common::tree(r.path());
    assert!(tree["d"].starts_with("d 0750 0:0"), "{}", tree["d"]);
    assert_eq!(tree["d/keep"], f("k"));
    assert_eq!(tree["target"], f("outside"), "written through the symlink");
    assert_eq!(tree["link"], f("new"));
    assert_eq!(tree["x"], f("new"));
    assert_eq!(tree["y"], f("old"), "the hardlink's other name changed");
}

/// layer.md: "A `.wh.` file, without a basename to delete, is invalid and implementations SHOULD return an
/// error when encountering such an entry."
#[test]
fn layer_md_a_whiteout_without_a_basename_is_refused() {
    for mode in [Mode::Merge, Mode::Overlay] {
        let r = shm();
        let e = apply(&fx::tar(&[E::file("a/.wh.", "")]), r.path(), mode).expect_err(".wh.");
        assert!(e.to_string().contains(".wh."), "{e}");
    }
}
