#![no_main]
//! `cargo fuzz run token`: see `hookfeed_fuzz::token`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::token(data));
