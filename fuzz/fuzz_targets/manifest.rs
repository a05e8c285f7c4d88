//! Manifests, indexes and image configs as a registry or an archive hands them over, with every conformance
//! rule applied.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let header = data.first().map(|b| match b % 4 {
        0 => "application/vnd.oci.image.manifest.v1+json",
        1 => "application/vnd.oci.image.index.v1+json",
        2 => "application/vnd.docker.distribution.manifest.v2+json",
        _ => "application/json",
    });
    let body = data.get(1..).unwrap_or_default();
    let _ = ucr_registry::manifest::parse(body, header, "fuzz");
    let d = ucr_registry::Digest::sha256_of(body);
    let _ = ucr_registry::manifest::ImageConfig::parse(body, &d);
});
