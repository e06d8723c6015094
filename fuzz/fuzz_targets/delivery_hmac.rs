#![no_main]
//! `cargo fuzz run delivery_hmac`: see `hookfeed_fuzz::delivery_hmac`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_hmac(data));
