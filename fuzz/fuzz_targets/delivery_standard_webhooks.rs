#![no_main]
//! `cargo fuzz run delivery_standard_webhooks`: see `hookfeed_fuzz::delivery_standard_webhooks`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::delivery_standard_webhooks(data));
