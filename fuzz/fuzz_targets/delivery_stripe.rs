#![no_main]
//! `cargo fuzz run delivery_stripe`: see `hookfeed_fuzz::delivery_stripe`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_stripe(data));
