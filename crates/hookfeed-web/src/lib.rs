//! hookfeed's browser module: Firestore's `onSnapshot` listener API over a hookfeed feed.
//!
//! Only [`api`] carries `#[wasm_bindgen]`; [`view`] (merging snapshots and changes) is
//! plain Rust, tested natively. Below `api` the modules depend one way: `client` (the
//! shared connection and its listeners) uses `frames` (the feed's frames) and `persist`
//! (the IndexedDB cache), which use `doc` (document data as a JS value) and `js` (the
//! interop helpers). What the module must agree on with the feed (wire names, path rules,
//! the value order, token shape, reconnect backoff) comes from hookfeed-wire. Document
//! data stays a JS value end to end (parsed by the browser's `JSON.parse`), which keeps
//! serde out of the download.
//!
//! On wasm the crate is `no_std`: std's panic and formatting machinery was a quarter of
//! the module, and a panic here can only abort anyway.
#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

extern crate alloc;

pub mod session;
pub mod view;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod resume;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod agreement;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod doc;
#[cfg(target_arch = "wasm32")]
mod frames;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod persist;

/// A panic aborts the module: `unreachable` traps, and the JS caller sees the error.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The allocator: talc's drop-in for the default one, a fraction of its size.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
