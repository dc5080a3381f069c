//! Random bytes for ids (container, volume, exec, trace and span ids, MAC addresses, names).
//!
//! Real runs draw from the operating system. A simulated run with `--seed N` makes every id
//! reproducible: [`seed`] switches this process to a ChaCha stream keyed by the seed and the
//! process's role (`ctrace`, `shim`, `init`), so the same command gives the same ids byte for byte.

use std::sync::Mutex;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

static SEEDED: Mutex<Option<ChaCha8Rng>> = Mutex::new(None);

/// From now on this process draws from a stream keyed by `seed` and `role`.
pub fn seed(seed: u64, role: &str) {
    *SEEDED.lock().unwrap_or_else(|e| e.into_inner()) = Some(stream(seed, role));
}

fn stream(seed: u64, role: &str) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    for (i, b) in role.bytes().take(24).enumerate() {
        key[8 + i] = b;
    }
    ChaCha8Rng::from_seed(key)
}

/// In a forked child: a seeded stream continues keyed by the child's `role`, so parent and child
/// (which share the stream's state at the fork) never draw the same ids.
pub fn fork_child(role: &str) {
    let mut g = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rng) = g.as_mut() {
        let next = rng.next_u64();
        *g = Some(stream(next, role));
    }
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    if let Some(rng) = SEEDED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        rng.fill_bytes(buf);
        return;
    }
    getrandom::fill(buf).expect("the operating system has no random numbers");
}

/// A random u64.
pub fn u64() -> u64 {
    let mut b = [0u8; 8];
    fill(&mut b);
    u64::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_stream_repeats_and_roles_differ() {
        let draw = |seed, role| stream(seed, role).next_u64();
        assert_eq!(draw(7, "shim"), draw(7, "shim"));
        assert_ne!(draw(7, "shim"), draw(7, "init"));
        assert_ne!(draw(7, "shim"), draw(8, "shim"));
    }
}
