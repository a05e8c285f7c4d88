//! Image references and names as requests write them: docker references, file transports, AppC names.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = ucr_registry::ImageRef::parse(s) {
            // What we print must parse back to the same reference.
            let again =
                ucr_registry::ImageRef::parse(&r.to_string()).expect("a printed reference parses");
            assert_eq!(again.to_string(), r.to_string());
        }
        let _ = ucr_registry::ImageName::parse(s);
    }
});
