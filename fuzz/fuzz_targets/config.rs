#![no_main]
//! `cargo fuzz run config`: see `hookfeed_fuzz::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::config(data));
