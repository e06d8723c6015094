#![no_main]
//! `cargo fuzz run delivery_twin_actor`: see `hookfeed_fuzz::delivery_twin_actor`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_twin_actor(data));
