//! The `WWW-Authenticate` challenge parser (a registry's 401 picks the auth realm we talk to next).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ucr_registry::auth::challenge::parse(s);
    }
});
