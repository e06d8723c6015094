#![no_main]
//! `cargo fuzz run doc_path`: see `hookfeed_fuzz::doc_path`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::doc_path(data));
