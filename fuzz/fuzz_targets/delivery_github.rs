#![no_main]
//! `cargo fuzz run delivery_github`: see `hookfeed_fuzz::delivery_github`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_github(data));
