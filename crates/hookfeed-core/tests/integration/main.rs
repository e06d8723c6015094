//! hookfeed-core's integration tests: one binary, one module per concern.

mod convergence;
mod handoff;
mod hub_model;
mod module_graph;
mod outbox_memory;
mod providers;
mod replay;
mod robustness;
mod roundtrip;
mod support;
mod vectors;
mod views;
