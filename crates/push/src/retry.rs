//! Retrying one delivery: [`send_with_retries`] under a [`RetryPolicy`] (exponential backoff with
//! full jitter, the push service's `Retry-After` honoured up to a cap), counting the outcome in
//! the [`crate::metrics`] counters.

use std::time::Duration;

use rand::Rng;

use crate::{metrics, Notification, Provider, PushError, Target};

/// How often and how patiently a delivery is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5).
    pub max_attempts: u32,
    /// The first retry waits up to this long; each further one up to twice as long (default
    /// 500 ms).
    pub base_delay: Duration,
    /// The longest wait between two attempts from backoff (default 60 s).
    pub max_delay: Duration,
    /// The longest a `Retry-After` is honoured (default 60 s): a push for a chat message that
    /// waits longer is stale.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first): uniformly random up to
    /// `min(max_delay, base_delay × 2^(retry-1))` ("full jitter", so many failed pushes do not
    /// come back at the same moment), and at least the push service's `Retry-After` (capped at
    /// `max_retry_after`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let jittered =
            Duration::from_nanos(rng.gen_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64));
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// How many attempts a delivery took, the successful one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts(pub u32);

/// Delivers `notification` to `target` with `provider`, retrying [`PushError::Retry`] failures
/// under `policy`; any other error ends at once. The error returned is the last attempt's: a
/// [`PushError::Retry`] here means the attempts ran out.
///
/// Counts the outcome: `confab_push_sent_total{provider}` or
/// `confab_push_failed_total{provider, reason}`.
pub async fn send_with_retries<P: Provider + ?Sized>(
    provider: &P,
    target: &Target,
    notification: &Notification,
    policy: &RetryPolicy,
) -> Result<Attempts, PushError> {
    let kind = provider.kind().as_str();
    let mut attempt = 1;
    let outcome = loop {
        match provider.send(target, notification).await {
            Ok(()) => break Ok(Attempts(attempt)),
            Err(PushError::Retry { after, reason }) if attempt < policy.max_attempts => {
                let wait = policy.delay(attempt, after, &mut rand::thread_rng());
                tracing::debug!(provider = kind, attempt, %reason, ?wait, "push retried");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => break Err(e),
        }
    };
    match &outcome {
        Ok(_) => ::metrics::counter!(metrics::SENT, "provider" => kind).increment(1),
        Err(e) => ::metrics::counter!(metrics::FAILED, "provider" => kind, "reason" => e.reason_label())
            .increment(1),
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use ::metrics::{
        Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use async_trait::async_trait;
    use confab_proto::PushKind;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use tokio::time::Instant;

    use super::*;
    use crate::notification::tests::sample;

    /// A provider that answers from a script and counts its calls.
    struct Scripted {
        answers: Mutex<VecDeque<Result<(), PushError>>>,
        calls: AtomicU64,
    }

    impl Scripted {
        fn new(answers: impl IntoIterator<Item = Result<(), PushError>>) -> Scripted {
            Scripted { answers: Mutex::new(answers.into_iter().collect()), calls: AtomicU64::new(0) }
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Provider for Scripted {
        fn kind(&self) -> PushKind {
            PushKind::Fcm
        }

        async fn send(&self, _: &Target, _: &Notification) -> Result<(), PushError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
        }
    }

    fn transient() -> Result<(), PushError> {
        Err(PushError::retry("503"))
    }

    fn target() -> Target {
        Target::Fcm { token: "t".into() }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let provider = Scripted::new([transient(), transient(), Ok(())]);
        let started = Instant::now();
        let attempts = send_with_retries(&provider, &target(), &sample(), &RetryPolicy::default()).await;
        assert_eq!(attempts, Ok(Attempts(3)));
        // At most 500 ms, then at most 1 s: full jitter never waits longer than the ceiling.
        assert!(started.elapsed() <= Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_run_out() {
        let provider = Scripted::new((0..10).map(|_| transient()));
        let result = send_with_retries(&provider, &target(), &sample(), &RetryPolicy::default()).await;
        assert!(matches!(result, Err(PushError::Retry { .. })));
        assert_eq!(provider.calls(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn final_errors_are_not_retried() {
        for error in [
            PushError::Gone("410".into()),
            PushError::Rejected("400".into()),
            PushError::Config("no key".into()),
        ] {
            let provider = Scripted::new([Err(error.clone())]);
            let result = send_with_retries(&provider, &target(), &sample(), &RetryPolicy::default()).await;
            assert_eq!(result, Err(error));
            assert_eq!(provider.calls(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_its_cap() {
        let policy = RetryPolicy { base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
        let wait = |after| Err(PushError::Retry { after: Some(after), reason: "429".into() });

        let provider = Scripted::new([wait(Duration::from_secs(7)), Ok(())]);
        let started = Instant::now();
        assert_eq!(send_with_retries(&provider, &target(), &sample(), &policy).await, Ok(Attempts(2)));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(7) && waited < Duration::from_millis(7002), "{waited:?}");

        let provider = Scripted::new([wait(Duration::from_secs(3600)), Ok(())]);
        let started = Instant::now();
        assert_eq!(send_with_retries(&provider, &target(), &sample(), &policy).await, Ok(Attempts(2)));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(60) && waited < Duration::from_millis(60_002), "{waited:?}");
    }

    #[test]
    fn backoff_doubles_within_full_jitter_up_to_the_maximum() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=40 {
            let ceiling = (Duration::from_millis(500) * 2u32.saturating_pow(retry - 1).min(1 << 10))
                .min(Duration::from_secs(60));
            let mut longest = Duration::ZERO;
            for _ in 0..200 {
                let d = policy.delay(retry, None, &mut rng);
                assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
                longest = longest.max(d);
            }
            // Jitter spreads over the whole range, not only its bottom.
            assert!(longest > ceiling / 2, "retry {retry}: {longest:?}");
        }
        assert!(policy.delay(3, Some(Duration::from_secs(5)), &mut rng) >= Duration::from_secs(5));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(500)), &mut rng), Duration::from_secs(60));
    }

    /// A recorder that keeps counters by name and labels.
    #[derive(Default)]
    struct Counters(Mutex<HashMap<String, Arc<Count>>>);

    #[derive(Default)]
    struct Count(AtomicU64);

    impl CounterFn for Count {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::SeqCst);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::SeqCst);
        }
    }

    impl Counters {
        fn get(&self, key: &str) -> u64 {
            self.0.lock().unwrap().get(key).map_or(0, |c| c.0.load(Ordering::SeqCst))
        }
    }

    impl Recorder for Counters {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Counter::from_arc(self.0.lock().unwrap().entry(name).or_default().clone())
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn outcomes_are_counted_by_provider_and_reason() {
        let counters = Counters::default();
        ::metrics::with_local_recorder(&counters, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let policy = RetryPolicy::default();
                let provider = Scripted::new([
                    Ok(()),
                    transient(),
                    Ok(()),
                    Err(PushError::Gone("410".into())),
                    Err(PushError::Config("key".into())),
                    Err(PushError::Rejected("400".into())),
                ]);
                for _ in 0..5 {
                    let _ = send_with_retries(&provider, &target(), &sample(), &policy).await;
                }
                let exhausted = Scripted::new((0..5).map(|_| transient()));
                let _ = send_with_retries(&exhausted, &target(), &sample(), &policy).await;
            });
        });
        assert_eq!(counters.get("confab_push_sent_total{provider=fcm}"), 2);
        for reason in ["gone", "config", "rejected", "retry_exhausted"] {
            let key = format!("confab_push_failed_total{{provider=fcm,reason={reason}}}");
            assert_eq!(counters.get(&key), 1, "{key}");
        }
    }
}
