//! Retrying provider calls that may succeed if repeated: exponential backoff
//! with jitter, the provider's `Retry-After` honoured, never past the deadline.

use backon::{BackoffBuilder, ExponentialBuilder};
use std::future::Future;
use std::time::Duration;

use crate::ports::{Deadline, ProviderError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { first_delay: Duration::from_millis(50), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or the next attempt could
    /// not start before `deadline`; then returns the last answer. Callers reuse
    /// one provider reference across attempts, which is what makes this safe.
    pub(crate) async fn run<T, F, Fut>(&self, deadline: Deadline, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        if deadline.is_past() {
            return Err(ProviderError::Transient {
                message: "deadline passed before the call".into(),
                retry_after: None,
            });
        }
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        loop {
            let error = match call().await {
                Err(error) if error.is_retryable() => error,
                answer => return answer,
            };
            let backoff = delays.next().unwrap_or(self.max_delay);
            let delay = match &error {
                ProviderError::Transient { retry_after: Some(after), .. } => backoff.max(*after),
                _ => backoff,
            };
            if delay >= deadline.remaining() {
                return Err(error);
            }
            tracing::debug!(%error, ?delay, "retrying provider call");
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient(retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Transient { message: "503".into(), retry_after }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_and_unknown_until_success() {
        let calls = AtomicU32::new(0);
        let answer = RetryPolicy::default()
            .run(Deadline::after(Duration::from_secs(10)), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(transient(None)),
                    1 => Err(ProviderError::OutcomeUnknown("timeout".into())),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(answer.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn final_answers_are_not_retried() {
        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = RetryPolicy::default()
            .run(Deadline::after(Duration::from_secs(10)), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ProviderError::Rejected(crate::ports::Rejection::InsufficientFunds))
            })
            .await;
        assert!(matches!(answer, Err(ProviderError::Rejected(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_before_the_deadline_and_returns_the_last_error() {
        let started = tokio::time::Instant::now();
        let deadline = Deadline::after(Duration::from_secs(1));
        let answer: Result<(), _> = RetryPolicy::default().run(deadline, || async { Err(transient(None)) }).await;
        assert!(matches!(answer, Err(ProviderError::Transient { .. })));
        assert!(started.elapsed() <= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let answer = RetryPolicy::default()
            .run(Deadline::after(Duration::from_secs(10)), || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(transient(Some(Duration::from_secs(3))))
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(answer.is_ok());
        assert!(started.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = RetryPolicy::default()
            .run(Deadline::after(Duration::from_secs(2)), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(transient(Some(Duration::from_secs(5))))
            })
            .await;
        assert!(answer.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_past_deadline_makes_no_call() {
        let calls = AtomicU32::new(0);
        let deadline = Deadline::after(Duration::ZERO);
        let answer: Result<(), _> = RetryPolicy::default()
            .run(deadline, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(answer.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
