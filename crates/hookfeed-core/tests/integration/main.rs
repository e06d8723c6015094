//! hookfeed-core's integration tests: one binary, one module per concern.

mod convergence;
mod handoff;
// The fuzz targets' harness (fuzz/src/lib.rs): robustness.rs runs every target on its
// seeds and on proptest's inputs, so plain `cargo test` exercises each briefly.
#[path = "../../../../fuzz/src/lib.rs"]
mod harness;
mod providers;
mod robustness;
mod roundtrip;
mod support;
mod vectors;
