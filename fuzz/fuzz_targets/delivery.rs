#![no_main]
//! `cargo fuzz run delivery`: see `hookfeed_fuzz::delivery` (every built-in scheme).

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery(data));
