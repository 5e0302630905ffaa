// Each bench includes this module and uses a part of it.
#![allow(dead_code)]

//! Helpers the benchmark programs share.

/// The process's resident set size, from `/proc/self/statm` (0 where that
/// file does not exist).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `p` quantile of a sorted, non-empty sample.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}
