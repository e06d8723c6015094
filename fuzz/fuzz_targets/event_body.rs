#![no_main]
//! `cargo fuzz run event_body`: see `hookfeed_fuzz::event_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookfeed_fuzz::event_body(data));
