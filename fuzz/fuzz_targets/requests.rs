//! Mesos (TaskInfo, LAUNCH_CONTAINER, TaskGroupInfo) and Marathon (apps, pods) JSON, as `ucr launch` and the
//! agent read them: any document is read or refused with an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ucr_runtime::spec::read_any(s);
    }
});
