//! The node's seeded random number generator.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};

/// A node's source of randomness: seeded, shareable across the node's workers.
///
/// ChaCha8 is used because its output is fixed by the algorithm, not by a crate
/// version, so a seed replays the same run forever.
#[derive(Clone, Debug)]
pub struct NodeRng {
    inner: Arc<Mutex<ChaCha8Rng>>,
}

impl NodeRng {
    /// A generator that always produces the same sequence for `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
        }
    }

    /// Derives an independent generator for a sub-component (stable for a given
    /// parent seed and label), so components do not perturb each other's streams.
    pub fn derive(&self, label: &str) -> NodeRng {
        let base = self.next_u64();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        NodeRng::from_seed(base ^ h)
    }

    /// An owned generator for a component that needs a `rand::Rng` of its
    /// own (foca's membership), derived like [`NodeRng::derive`].
    pub fn owned(&self, label: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.derive(label).next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        self.lock().next_u64()
    }

    /// Fills `out` with random bytes.
    pub fn fill_bytes(&self, out: &mut [u8]) {
        self.lock().fill_bytes(out);
    }

    /// A uniform sample in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        self.lock().gen::<f64>()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaCha8Rng> {
        // A poisoned RNG is still a valid RNG: its state is plain data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a = NodeRng::from_seed(42);
        let b = NodeRng::from_seed(42);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(
            xs,
            (0..8)
                .map(|_| NodeRng::from_seed(43).next_u64())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn unit_is_in_range() {
        let r = NodeRng::from_seed(1);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
