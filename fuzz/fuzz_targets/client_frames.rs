#![no_main]
//! `cargo fuzz run client_frames`: see `hookfeed_fuzz::client_frames`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::client_frames(data));
