//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does
//! it: the holder renews `renewTime` every `renew_every`; another replica takes the Lease
//! over only after it has seen the same Lease record unchanged for `duration` by its *own*
//! clock (so clocks need not agree); every write carries the `resourceVersion` it read, so
//! of two replicas writing at once the API server accepts one and answers the other 409.
//! A holder that cannot renew for `renew_deadline` stops acting before anyone else may
//! start (the deadline is shorter than the duration).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;

use crate::cluster::{describe, error_code};

/// Which Lease and who we are.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per replica (pod name plus a random suffix).
    pub identity: String,
    /// How long a Lease not renewed stays valid (client-go's default: 15 s).
    pub duration: Duration,
    /// How often the holder renews and a candidate retries (client-go: 2 s).
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// A holder that has not renewed for this long stops acting (client-go: 10 s of 15 s).
    pub fn renew_deadline(&self) -> Duration {
        self.duration.mul_f64(2.0 / 3.0)
    }
}

/// One replica's view of the Lease.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The Lease record last seen (resourceVersion) and when, by our clock.
    observed: Option<(String, Instant)>,
    /// When we last wrote the Lease as its holder.
    renewed: Option<Instant>,
}

impl Elector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            renewed: None,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// How long a round may take: until the renew deadline while we hold the Lease (so that
    /// a hung request ends our leadership on time), one deadline otherwise.
    pub fn round_budget(&self) -> Duration {
        let deadline = self.config.renew_deadline();
        match self.renewed.map(|t| t.elapsed()) {
            Some(held) if held < deadline => deadline - held,
            // Not (or no longer) leader: a whole deadline to acquire.
            _ => deadline,
        }
    }

    /// Whether we may act now: we hold the Lease and renewed it within the deadline.
    pub fn is_leader(&self) -> bool {
        self.renewed
            .is_some_and(|t| t.elapsed() < self.config.renew_deadline())
    }

    /// One round: acquire or renew. Returns whether we hold the Lease; an API error leaves
    /// [`Elector::is_leader`] to the deadline.
    pub async fn round(&mut self) -> Result<bool, String> {
        // A renewal counts from when it was sent, not from when the answer came: a candidate
        // may take over `duration` after it saw the previous record, and a slow answer must
        // not stretch the holder's deadline past that.
        let sent = Instant::now();
        let name = self.config.name.clone();
        let existing = self.api.get_opt(&name).await.map_err(|e| {
            format!(
                "reading Lease {}/{name}: {}",
                self.config.namespace,
                describe(&e)
            )
        })?;
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.renewed = Some(sent);
                    Ok(true)
                }
                // Another replica created it first.
                Err(e) if error_code(&e) == 409 => Ok(false),
                Err(e) => Err(format!("creating Lease: {}", describe(&e))),
            };
        };
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let seen_at = match &self.observed {
            Some((r, at)) if *r == rv => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((rv, at));
                at
            }
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.config.identity.as_str());
        let their_duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        let expired = holder.is_none() || seen_at.elapsed() > their_duration;
        if !mine && !expired {
            self.renewed = None;
            return Ok(false);
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(seconds),
            acquire_time: if mine {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + i32::from(!mine)),
            ..spec
        });
        // The resourceVersion read above travels with the update: optimistic concurrency.
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.renewed = Some(sent);
                Ok(true)
            }
            Err(e) if error_code(&e) == 409 => {
                self.renewed = None;
                Ok(false)
            }
            Err(e) => Err(format!("updating Lease: {}", describe(&e))),
        }
    }

    /// Gives the Lease up (on shutdown), so a standby replica takes over at once instead of
    /// after the lease duration.
    pub async fn release(&mut self) {
        if self.renewed.is_none() {
            return;
        }
        self.renewed = None;
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            ..spec
        });
        if let Err(e) = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(error = %describe(&e), "could not release the Lease");
        }
    }
}
