#![no_main]
//! `cargo fuzz run delivery_percify`: see `hookfeed_fuzz::delivery_percify`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_percify(data));
