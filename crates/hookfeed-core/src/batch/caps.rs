//! A batch's caps, shared by its framing and its queue (a leaf, so that neither reaches
//! back into the parent module that declares them).

/// Deliveries in one batch at most.
pub const MAX_BATCH_DELIVERIES: usize = 64;
/// Bytes of bodies in one batch at most, unless the batch holds one delivery (a lone
/// delivery as large as its source allows still travels).
pub const MAX_BATCH_BODY_BYTES: usize = 1 << 20;

/// Whether a delivery of `next_len` body bytes may join a batch that holds `count`
/// deliveries of `bytes` body bytes: within [`MAX_BATCH_DELIVERIES`] and
/// [`MAX_BATCH_BODY_BYTES`], and always when the batch is empty.
pub fn fits(count: usize, bytes: usize, next_len: usize) -> bool {
    count == 0 || (count < MAX_BATCH_DELIVERIES && bytes.saturating_add(next_len) <= MAX_BATCH_BODY_BYTES)
}
