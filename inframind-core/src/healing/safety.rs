//! Safety state the host keeps between webhooks: cooldowns, rate limits and deduplication of
//! repeated deliveries, read from an injectable [`Clock`].
//!
//! * **Cooldown** per (policy, alert fingerprint): after a policy acted on an alert, it does not
//!   act on the same alert again until the cooldown has passed.
//! * **Rate limit** per policy: at most `max_actions` actions in any sliding `window`.
//! * **Deduplication**: Alertmanager HA pairs each send the same notification, and a receiver
//!   retries on timeouts. A delivery of an alert is identified by (fingerprint, status,
//!   startsAt); a second delivery within [`SafetyConfig::dedup_ttl`] is suppressed. The
//!   `groupKey` is deliberately not part of the key: the same alert routed to us through two
//!   routes must not be remediated twice.
//!
//! The state is bounded: expired entries are evicted as time passes, and if more than
//! [`SafetyConfig::max_entries`] entries are live, the ones expiring first are evicted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

use crate::healing::alert::{Alert, AlertStatus};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to: tests set and advance it exactly.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    /// Moves the time forward (saturating at the latest representable time).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = add(*now, by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// Limits of the safety state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SafetyConfig {
    /// How long a delivery is remembered for deduplication (default 10 minutes).
    pub dedup_ttl: Duration,
    /// Most live entries (cooldowns + deliveries + rate-limit slots) kept (default 100,000).
    pub max_entries: usize,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            dedup_ttl: Duration::from_secs(600),
            max_entries: 100_000,
        }
    }
}

impl SafetyConfig {
    /// Sets [`SafetyConfig::dedup_ttl`].
    pub fn with_dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = ttl;
        self
    }

    /// Sets [`SafetyConfig::max_entries`].
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(1);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DeliveryKey {
    fingerprint: String,
    status: AlertStatus,
    starts_at: Timestamp,
}

/// Cooldowns, rate-limit windows and remembered deliveries. Keep one per policy set in the host
/// (behind a mutex if several threads evaluate).
#[derive(Debug, Clone, Default)]
pub struct SafetyState {
    config: SafetyConfig,
    /// (policy, fingerprint) -> (acted at, cooldown ends at).
    cooldowns: HashMap<(String, String), (Timestamp, Timestamp)>,
    /// policy -> times of its recent actions (oldest first) and the window they count in.
    actions: HashMap<String, (Duration, VecDeque<Timestamp>)>,
    /// delivery -> (first seen, forget at).
    deliveries: HashMap<DeliveryKey, (Timestamp, Timestamp)>,
    last_prune: Option<Timestamp>,
}

impl SafetyState {
    /// Empty state with the given limits.
    pub fn new(config: SafetyConfig) -> Self {
        SafetyState {
            config,
            ..SafetyState::default()
        }
    }

    /// The limits.
    pub fn config(&self) -> SafetyConfig {
        self.config
    }

    /// Number of live entries (cooldowns + remembered deliveries + rate-limit slots).
    pub fn len(&self) -> usize {
        self.cooldowns.len()
            + self.deliveries.len()
            + self.actions.values().map(|(_, q)| q.len()).sum::<usize>()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.cooldowns.clear();
        self.actions.clear();
        self.deliveries.clear();
    }

    fn key(alert: &Alert) -> DeliveryKey {
        DeliveryKey {
            fingerprint: alert.fingerprint.clone(),
            status: alert.status,
            starts_at: alert.starts_at,
        }
    }

    /// When this delivery of the alert was first seen, if it is a repeat within the TTL.
    pub(crate) fn duplicate_of(&self, alert: &Alert, now: Timestamp) -> Option<Timestamp> {
        self.deliveries
            .get(&Self::key(alert))
            .filter(|(_, forget_at)| *forget_at > now)
            .map(|(first, _)| *first)
    }

    pub(crate) fn remember_delivery(&mut self, alert: &Alert, now: Timestamp) {
        let forget_at = add(now, self.config.dedup_ttl);
        self.deliveries
            .entry(Self::key(alert))
            .and_modify(|e| {
                if e.1 <= now {
                    *e = (now, forget_at);
                }
            })
            .or_insert((now, forget_at));
    }

    /// If the policy is cooling down for this fingerprint: (last action, cooldown end).
    pub(crate) fn cooling_down(
        &self,
        policy: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Option<(Timestamp, Timestamp)> {
        // Avoid allocating a key tuple on the hot path when no cooldown is recorded at all.
        if self.cooldowns.is_empty() {
            return None;
        }
        self.cooldowns
            .get(&(policy.to_string(), fingerprint.to_string()))
            .filter(|(_, until)| *until > now)
            .copied()
    }

    /// Number of actions of the policy within `window` before `now`.
    pub(crate) fn actions_in_window(
        &self,
        policy: &str,
        window: Duration,
        now: Timestamp,
    ) -> usize {
        let Some((_, q)) = self.actions.get(policy) else {
            return 0;
        };
        let since = now.saturating_sub(window).unwrap_or(Timestamp::MIN);
        q.iter().filter(|t| **t > since).count()
    }

    pub(crate) fn record_action(
        &mut self,
        policy: &str,
        fingerprint: &str,
        cooldown: Option<Duration>,
        rate: Option<(u32, Duration)>,
        now: Timestamp,
    ) {
        if let Some(c) = cooldown.filter(|c| !c.is_zero()) {
            self.cooldowns.insert(
                (policy.to_string(), fingerprint.to_string()),
                (now, add(now, c)),
            );
        }
        if let Some((max, window)) = rate {
            let (w, q) = self
                .actions
                .entry(policy.to_string())
                .or_insert_with(|| (window, VecDeque::new()));
            *w = window;
            let since = now.saturating_sub(window).unwrap_or(Timestamp::MIN);
            while q.front().is_some_and(|t| *t <= since) {
                q.pop_front();
            }
            q.push_back(now);
            // The limit never needs more than `max` timestamps.
            while q.len() > max as usize {
                q.pop_front();
            }
        }
    }

    /// Evicts expired entries, then the soonest-expiring ones while over `max_entries`.
    /// Evaluation calls this; hosts may call it from a timer.
    pub fn prune(&mut self, now: Timestamp) {
        self.last_prune = Some(now);
        self.cooldowns.retain(|_, (_, until)| *until > now);
        self.deliveries.retain(|_, (_, forget_at)| *forget_at > now);
        self.actions.retain(|_, (window, q)| {
            let since = now.saturating_sub(*window).unwrap_or(Timestamp::MIN);
            while q.front().is_some_and(|t| *t <= since) {
                q.pop_front();
            }
            !q.is_empty()
        });
        let over = self.len().saturating_sub(self.config.max_entries);
        if over > 0 {
            // Deliveries are the cheapest to forget (a late duplicate is then caught by the
            // cooldown); cooldowns next, soonest-ending first.
            let mut ds: Vec<(Timestamp, DeliveryKey)> = self
                .deliveries
                .iter()
                .map(|(k, (_, f))| (*f, k.clone()))
                .collect();
            ds.sort_by_key(|a| a.0);
            let mut left = over;
            for (_, k) in ds.into_iter().take(left) {
                self.deliveries.remove(&k);
                left -= 1;
            }
            if left > 0 {
                let mut cs: Vec<(Timestamp, (String, String))> = self
                    .cooldowns
                    .iter()
                    .map(|(k, (_, u))| (*u, k.clone()))
                    .collect();
                cs.sort_by_key(|a| a.0);
                for (_, k) in cs.into_iter().take(left) {
                    self.cooldowns.remove(&k);
                    left -= 1;
                }
            }
            if left > 0 {
                for (_, q) in self.actions.values_mut() {
                    while left > 0 && !q.is_empty() {
                        q.pop_front();
                        left -= 1;
                    }
                }
                self.actions.retain(|_, (_, q)| !q.is_empty());
            }
        }
    }

    /// Prunes when time moved on by a second or the state is over its limit; cheap otherwise.
    pub(crate) fn maybe_prune(&mut self, now: Timestamp) {
        let due = match self.last_prune {
            None => true,
            Some(t) => now.duration_since(t) >= jiff::SignedDuration::from_secs(1),
        };
        if due || self.len() > self.config.max_entries {
            self.prune(now);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alert(fp: &str) -> Alert {
        Alert {
            status: AlertStatus::Firing,
            labels: Default::default(),
            annotations: Default::default(),
            starts_at: Timestamp::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn manual_clock_is_exact() {
        let c = ManualClock::new(Timestamp::UNIX_EPOCH);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now().as_millisecond(), 1500);
        c.set(Timestamp::MAX);
        c.advance(Duration::from_secs(10));
        assert_eq!(c.now(), Timestamp::MAX);
    }

    #[test]
    fn entries_expire_and_stay_bounded() {
        let mut s = SafetyState::new(
            SafetyConfig::default()
                .with_dedup_ttl(Duration::from_secs(60))
                .with_max_entries(10),
        );
        let t0 = Timestamp::UNIX_EPOCH;
        for i in 0..50 {
            let a = alert(&format!("{i:016x}"));
            s.remember_delivery(&a, t0);
            s.record_action(
                "p",
                &a.fingerprint,
                Some(Duration::from_secs(30)),
                Some((3, Duration::from_secs(60))),
                t0,
            );
            s.maybe_prune(t0);
            assert!(s.len() <= 10, "len {}", s.len());
        }
        s.prune(add(t0, Duration::from_secs(61)));
        assert!(s.is_empty(), "all expired: {s:?}");
    }

    #[test]
    fn rate_window_slides() {
        let mut s = SafetyState::default();
        let t0 = Timestamp::UNIX_EPOCH;
        let rate = Some((2, Duration::from_secs(60)));
        s.record_action("p", "a", None, rate, t0);
        s.record_action("p", "b", None, rate, add(t0, Duration::from_secs(30)));
        assert_eq!(
            s.actions_in_window(
                "p",
                Duration::from_secs(60),
                add(t0, Duration::from_secs(59))
            ),
            2
        );
        assert_eq!(
            s.actions_in_window(
                "p",
                Duration::from_secs(60),
                add(t0, Duration::from_secs(60))
            ),
            1
        );
        assert_eq!(
            s.actions_in_window(
                "p",
                Duration::from_secs(60),
                add(t0, Duration::from_secs(90))
            ),
            0
        );
    }
}
