// Each bench includes this module and uses a part of it.
#![allow(dead_code)]

//! Helpers the benchmark programs share.

pub use arbour_tests::rss_bytes;

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `p` quantile of a sorted, non-empty sample.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}
