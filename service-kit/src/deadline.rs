//! A deadline on each wait of a sequence of waits: a request head that must complete in
//! time once it started, the keep-alive clock's next tick, an upstream body whose every read
//! must come in time.

use std::{pin::Pin, task::Context, time::Duration};

use tokio::time::{Instant, Sleep};

/// The deadline of the current wait. The timer is allocated at the first wait and re-armed
/// for each later one, so a wait that is over before its first poll costs nothing.
#[derive(Debug, Default)]
pub struct WaitDeadline {
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl WaitDeadline {
    /// Polls the deadline of the current wait, which ends `limit` after this wait's first
    /// poll; `true` once it has passed (the waker of `cx` is woken then).
    pub fn poll_expired(&mut self, limit: Duration, cx: &mut Context<'_>) -> bool {
        // The clock is read only when a wait starts: an armed deadline is polled on every
        // read of a keep-alive connection (see `connection::IdleClock`).
        let timer = match &mut self.timer {
            Some(timer) if self.armed => timer,
            Some(timer) => {
                timer.as_mut().reset(Instant::now() + limit);
                timer
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(Instant::now() + limit))),
        };
        self.armed = true;
        timer.as_mut().poll(cx).is_ready()
    }

    /// The current wait is over: the next one gets a deadline of its own.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn expired(d: &mut WaitDeadline, limit: Duration) -> bool {
        std::future::poll_fn(|cx| std::task::Poll::Ready(d.poll_expired(limit, cx))).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_wait_gets_the_full_limit() {
        let mut d = WaitDeadline::default();
        let limit = Duration::from_millis(100);
        assert!(!expired(&mut d, limit).await);
        tokio::time::advance(Duration::from_millis(80)).await;
        assert!(!expired(&mut d, limit).await, "80 ms into a 100 ms wait");
        // Progress: the next wait starts afresh.
        d.disarm();
        assert!(!expired(&mut d, limit).await);
        tokio::time::advance(Duration::from_millis(80)).await;
        assert!(!expired(&mut d, limit).await, "80 ms into the second wait");
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(expired(&mut d, limit).await, "110 ms into the second wait");
    }
}
