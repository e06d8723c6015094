#![no_main]
//! `cargo fuzz run batch`: see `hookfeed_fuzz::batch`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::batch(data));
