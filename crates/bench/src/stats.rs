//! One clock for every task of a run, and latency histograms.
//!
//! Send times travel inside the messages as microseconds on [`now_us`]'s clock, which is monotonic
//! and shared by every task of this process; sender and recipient live in the same process, so no
//! clock synchronisation is involved.

use std::sync::OnceLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since this process's benchmark epoch.
pub fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// The `Instant` of a [`now_us`] reading.
pub fn instant_of(us: u64) -> Instant {
    epoch() + std::time::Duration::from_micros(us)
}

/// A latency histogram in microseconds, 1 µs to 100 s (longer saturates), 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("static bounds are valid")
}

/// Records `now - sent_us` (at least 1 µs).
pub fn record_since(h: &mut Histogram<u64>, sent_us: u64) {
    let latency = now_us().saturating_sub(sent_us).max(1);
    h.saturating_record(latency);
}

/// Percentiles of one latency series, in milliseconds, with the points for the charts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub name: String,
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// (percentile, latency ms) along the distribution, for the percentile curve.
    pub curve: Vec<(f64, f64)>,
    /// (lower ms, upper ms, count), logarithmic buckets, for the histogram.
    pub buckets: Vec<(f64, f64, u64)>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl LatencySummary {
    pub fn from_histogram(name: &str, h: &Histogram<u64>) -> LatencySummary {
        let empty = h.is_empty();
        let q = |p: f64| if empty { 0.0 } else { ms(h.value_at_quantile(p)) };
        let mut curve = Vec::new();
        if !empty {
            // 0, 50, 75, 87.5, … : halving the remaining tail each step, like HdrHistogram's plots.
            let mut p: f64 = 0.0;
            for _ in 0..24 {
                curve.push((p * 100.0, ms(h.value_at_quantile(p))));
                p = 1.0 - (1.0 - p) / 2.0;
            }
            curve.push((100.0, ms(h.max())));
        }
        let mut buckets = Vec::new();
        if !empty {
            // Four buckets per power of two from the minimum; each recorded value lands in one.
            let lo = h.min().max(1) as f64;
            let per_octave = 4.0;
            let index = |v: u64| ((v.max(1) as f64 / lo).log2() * per_octave).floor().max(0.0) as usize;
            let mut counts = vec![0u64; index(h.max()) + 1];
            for v in h.iter_recorded() {
                let last = counts.len() - 1;
                counts[index(v.value_iterated_to()).min(last)] += v.count_at_value();
            }
            for (i, count) in counts.into_iter().enumerate() {
                let bound = |i: usize| lo * 2f64.powf(i as f64 / per_octave) / 1000.0;
                buckets.push((bound(i), bound(i + 1), count));
            }
        }
        LatencySummary {
            name: name.to_string(),
            count: h.len(),
            mean_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: if empty { 0.0 } else { ms(h.max()) },
            curve,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_percentiles_follow_the_data() {
        let mut h = histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = LatencySummary::from_histogram("x", &h);
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{}", s.p50_ms);
        assert!((s.p99_ms - 990.0).abs() < 2.0, "{}", s.p99_ms);
        assert!((s.max_ms - 1000.0).abs() < 1.0);
        let bucketed: u64 = s.buckets.iter().map(|b| b.2).sum();
        assert_eq!(bucketed, 1000);
        assert!(s.curve.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
