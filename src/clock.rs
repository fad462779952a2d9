//! The clock: the only place that reads the wall clock, so tests can fix and move time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Where "now" comes from: the system, or a fixed instant that tests move by hand.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The real wall clock.
    System,
    /// A fixed instant shared by every clone (tests advance it with [`Clock::advance`]).
    Fixed(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A fixed clock starting at `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::Fixed(Arc::new(Mutex::new(at)))
    }

    /// The current instant.
    #[allow(clippy::disallowed_methods)] // the one sanctioned caller of Utc::now
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The current instant as Unix milliseconds, the form every stored time takes.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves a fixed clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Self::Fixed(at) = self {
            let mut guard = at.lock().unwrap_or_else(|e| e.into_inner());
            *guard += by;
        }
    }
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp with second precision,
/// the form ActivityPub peers expect in `published` and `updated`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
