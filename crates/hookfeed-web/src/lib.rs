//! hookfeed's browser module: Firestore's `onSnapshot` listener API over a hookfeed feed.
//!
//! Only [`api`] carries `#[wasm_bindgen]`; [`view`] (merging snapshots and changes) and
//! [`backoff`] (reconnect delays) are plain Rust, tested natively. Document data stays a
//! JS value end to end (parsed by the browser's `JSON.parse`), which keeps serde out of
//! the download.

pub mod backoff;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod persist;

/// The allocator: talc's drop-in for the default one, a fraction of its size.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
