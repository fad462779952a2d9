#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| understory::fuzzing::signature_header(data));
