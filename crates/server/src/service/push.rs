//! Push notifications: devices subscribe, members mute conversations, and every node runs a
//! dispatcher that claims due pushes from the store, skips devices with a live connection on any
//! node, and sends the rest through the configured providers (`confab_push`).
//!
//! A message's push work is recorded by the store in the message's own transaction and claimed
//! under a lease, so a push survives the node that committed the message and is sent by one node
//! (a node that dies mid-send leaves it to another when the lease ends; the per-conversation
//! collapse key makes such a repeat replace the first notification on the device). The
//! dispatcher is off the send path: a slow or failing provider never delays a message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use confab_core::bus::SharedBus;
use confab_core::ids::{new_id, now_millis};
use confab_core::push::{DuePush, PushClaim, PushDone, StoredPushSubscription};
use confab_core::rules::push as rules;
use confab_core::store::SharedStore;
use confab_core::{validate, Error, Result};
use confab_proto::{NotificationSettings, PushConfig, PushKind, PushSubscription, PushSubscriptionRequest};
use confab_push::{
    ApnsConfig, ApnsEnvironment, ApnsKey, ApnsProvider, ClientOptions, EndpointPolicy, FcmConfig,
    FcmProvider, Notification, Providers, PushError, RetryPolicy, ServiceAccount, Target, VapidKey,
    WebPushConfig, WebPushKeys, WebPushProvider, WebhookConfig, WebhookProvider,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::PushSettings;

/// The store setting holding the VAPID private key all nodes share.
const VAPID_SETTING: &str = "push.vapid_private_key";
/// How often a dispatcher looks for due pushes (new messages, coalesced pushes coming due, pushes
/// a dead node left behind): push latency is at most this more than the provider's.
const POLL: Duration = Duration::from_millis(250);
/// Pushes claimed per round, and sent at once.
const CLAIM_BATCH: u32 = 64;
const IN_FLIGHT: usize = 16;
/// Retries stay well inside the claim's lease.
fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
        max_retry_after: Duration::from_secs(10),
    }
}

/// Why push could not start: a configured provider's key or credentials are unusable.
#[derive(Debug, thiserror::Error)]
#[error("push: {0}")]
pub(crate) struct PushStartError(String);

struct Inner {
    store: SharedStore,
    bus: SharedBus,
    providers: Providers,
    policy: EndpointPolicy,
    settings: PushSettings,
    web_push_public_key: Option<String>,
    node_id: String,
}

/// Subscriptions, mutes and this node's dispatcher.
#[derive(Clone)]
pub(crate) struct Push {
    inner: Arc<Inner>,
}

fn read(path: &Path, what: &str) -> std::result::Result<String, PushStartError> {
    std::fs::read_to_string(path)
        .map_err(|e| PushStartError(format!("cannot read {what} {}: {e}", path.display())))
}

fn config_error(what: &str) -> impl Fn(PushError) -> PushStartError + '_ {
    move |e| PushStartError(format!("{what}: {e}"))
}

fn url(raw: &str, what: &str) -> std::result::Result<url::Url, PushStartError> {
    url::Url::parse(raw).map_err(|e| PushStartError(format!("{what} is not a URL: {e}")))
}

/// DER certificates from a PEM file.
fn certificates(path: &Path) -> std::result::Result<Vec<Vec<u8>>, PushStartError> {
    use rustls::pki_types::pem::PemObject;
    let pem = read(path, "push CA file")?;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| PushStartError(format!("push CA file {}: {e}", path.display())))
}

impl Push {
    /// Builds the configured providers. The VAPID key is `--vapid-private-key`, else the one
    /// stored, else a new one stored for every node (first writer wins).
    pub(crate) async fn start(
        settings: PushSettings,
        store: SharedStore,
        bus: SharedBus,
        node_id: &str,
    ) -> std::result::Result<Push, PushStartError> {
        let http = ClientOptions {
            extra_root_certs: match &settings.ca_file {
                Some(path) => certificates(path)?,
                None => Vec::new(),
            },
            ..ClientOptions::default()
        };
        let policy = EndpointPolicy { allow_private: settings.allow_private_endpoints };
        let mut providers = Providers::new();
        let mut web_push_public_key = None;
        if settings.web_push {
            let private = match &settings.vapid_private_key {
                Some(key) => key.clone(),
                None => {
                    let candidate = VapidKey::generate().map_err(config_error("VAPID key"))?;
                    store
                        .setting_or_init(VAPID_SETTING, &candidate.private_key_base64url())
                        .await
                        .map_err(|e| PushStartError(format!("VAPID key not stored: {e}")))?
                }
            };
            let vapid =
                VapidKey::from_base64url(private.trim()).map_err(config_error("VAPID private key"))?;
            let mut config = WebPushConfig::new(vapid, settings.vapid_subject.clone());
            config.policy = policy;
            config.http = http.clone();
            let provider = WebPushProvider::new(config).map_err(config_error("Web Push"))?;
            web_push_public_key = Some(provider.public_key_base64url());
            providers.insert(Arc::new(provider));
        }
        if let Some(path) = &settings.fcm_credentials {
            let account = ServiceAccount::from_json(&read(path, "FCM credentials")?)
                .map_err(config_error("FCM credentials"))?;
            let mut config = FcmConfig::new(account);
            config.base_url = settings.fcm_base_url.as_deref().map(|u| url(u, "FCM base URL")).transpose()?;
            config.http = http.clone();
            providers.insert(Arc::new(FcmProvider::new(config).map_err(config_error("FCM"))?));
        }
        if let Some(apns) = &settings.apns {
            let key = ApnsKey::from_pem(&read(&apns.key, "APNs key")?, &apns.key_id, &apns.team_id)
                .map_err(config_error("APNs key"))?;
            let environment =
                if apns.sandbox { ApnsEnvironment::Sandbox } else { ApnsEnvironment::Production };
            let mut config = ApnsConfig::new(key, apns.topic.clone(), environment);
            config.base_url = apns.base_url.as_deref().map(|u| url(u, "APNs base URL")).transpose()?;
            config.http = http.clone();
            providers.insert(Arc::new(ApnsProvider::new(config).map_err(config_error("APNs"))?));
        }
        if let Some(raw) = &settings.webhook_url {
            let secret = settings
                .webhook_secret
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| PushStartError("--push-webhook-url needs --push-webhook-secret".into()))?;
            let mut config = WebhookConfig::new(url(raw, "push webhook URL")?, secret);
            config.http = http.clone();
            providers.insert(Arc::new(WebhookProvider::new(config).map_err(config_error("push webhook"))?));
        }
        Ok(Push {
            inner: Arc::new(Inner {
                store,
                bus,
                providers,
                policy,
                settings,
                web_push_public_key,
                node_id: node_id.to_string(),
            }),
        })
    }

    /// Push with every provider off (what `start` builds when none is configured), for tests of
    /// other services.
    #[cfg(test)]
    pub(crate) fn without_providers(store: SharedStore, bus: SharedBus, node_id: &str) -> Push {
        let settings = PushSettings { web_push: false, ..PushSettings::default() };
        Push {
            inner: Arc::new(Inner {
                store,
                bus,
                providers: Providers::new(),
                policy: EndpointPolicy::default(),
                settings,
                web_push_public_key: None,
                node_id: node_id.to_string(),
            }),
        }
    }

    /// `GET /api/v1/push/config`.
    pub(crate) fn config(&self) -> PushConfig {
        PushConfig {
            web_push_public_key: self.inner.web_push_public_key.clone(),
            kinds: self.inner.providers.kinds(),
        }
    }

    /// `POST /api/v1/push/subscriptions`: checked as its provider will need it, then stored (a
    /// device's earlier subscription of the same kind is replaced).
    pub(crate) async fn subscribe(
        &self,
        user: &str,
        req: PushSubscriptionRequest,
    ) -> Result<PushSubscription> {
        validate::client_id("deviceId", &req.device_id)?;
        if self.inner.providers.get(req.kind).is_none() {
            return Err(Error::InvalidRequest(format!(
                "{} push is not enabled on this server",
                req.kind.as_str()
            )));
        }
        let invalid = |e: confab_push::TargetError| Error::InvalidRequest(e.to_string());
        let missing =
            |field: &str| Error::InvalidRequest(format!("{} subscriptions need {field}", req.kind.as_str()));
        let (mut endpoint, mut p256dh, mut auth, mut token) = (None, None, None, None);
        match req.kind {
            PushKind::WebPush => {
                let raw = req.endpoint.as_deref().ok_or_else(|| missing("endpoint"))?;
                let keys = req.keys.as_ref().ok_or_else(|| missing("keys"))?;
                self.inner.policy.validate(raw).map_err(|e| Error::InvalidRequest(e.to_string()))?;
                WebPushKeys::parse(&keys.p256dh, &keys.auth).map_err(invalid)?;
                (endpoint, p256dh, auth) =
                    (Some(raw.to_string()), Some(keys.p256dh.clone()), Some(keys.auth.clone()));
            }
            PushKind::Fcm | PushKind::Apns => {
                let raw = req.token.as_deref().ok_or_else(|| missing("token"))?;
                if req.kind == PushKind::Fcm {
                    Target::fcm(raw).map_err(invalid)?;
                } else {
                    Target::apns(raw).map_err(invalid)?;
                }
                token = Some(raw.to_string());
            }
            PushKind::Webhook => {}
        }
        let subscription = PushSubscription {
            subscription_id: new_id(),
            device_id: req.device_id,
            kind: req.kind,
            created_at: now_millis(),
        };
        let stored =
            StoredPushSubscription { subscription, user_id: user.to_string(), endpoint, p256dh, auth, token };
        self.inner.store.put_push_subscription(stored).await
    }

    pub(crate) async fn subscriptions(&self, user: &str) -> Result<Vec<PushSubscription>> {
        self.inner.store.push_subscriptions(user).await
    }

    pub(crate) async fn unsubscribe(&self, user: &str, subscription_id: &str) -> Result<()> {
        self.inner.store.delete_push_subscription(user, subscription_id).await
    }

    /// `PUT /api/v1/conversations/{id}/notifications`: the caller's setting as it now stands.
    pub(crate) async fn set_notifications(
        &self,
        conversation_id: &str,
        user: &str,
        settings: NotificationSettings,
    ) -> Result<NotificationSettings> {
        let now = now_millis();
        let until = rules::muted_until(&settings, now)?;
        self.inner.store.set_muted(conversation_id, user, until).await?;
        let (muted, muted_until) = rules::mute_view(until, now);
        Ok(NotificationSettings { muted, muted_until })
    }

    /// This node's dispatcher, until shutdown. Without any provider it does nothing.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        if self.inner.providers.kinds().is_empty() {
            return;
        }
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        // Rounds since the store last answered: while it is down, the dispatcher waits longer
        // between tries (up to 16 polls) instead of logging four failures a second.
        let mut failures: u32 = 0;
        loop {
            let claim = PushClaim {
                node: self.inner.node_id.clone(),
                now: now_millis(),
                lease_ms: self.inner.settings.lease.as_millis() as i64,
                coalesce_ms: self.inner.settings.coalesce.as_millis() as i64,
                limit: CLAIM_BATCH,
            };
            let claimed = match self.inner.store.claim_pushes(claim).await {
                Ok(claimed) => {
                    failures = 0;
                    claimed
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "push: claiming due pushes failed; retrying with backoff");
                    }
                    failures = failures.saturating_add(1);
                    Vec::new()
                }
            };
            let full = claimed.len() as u32 >= CLAIM_BATCH;
            for due in claimed {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let this = self.clone();
                tokio::spawn(async move {
                    this.deliver(due).await;
                    drop(slot);
                });
            }
            if full {
                continue;
            }
            let wait = POLL * (1u32 << failures.min(4));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends one due push to every subscription of its device, unless the device is live.
    async fn deliver(&self, due: DuePush) {
        let inner = &self.inner;
        let live = match inner.bus.live_devices(&due.user_id).await {
            Ok(devices) => devices.contains(&due.device_id),
            // Unknown: better a push the device did not need than none.
            Err(e) => {
                tracing::debug!(error = %e, "push: live devices unknown; pushing");
                false
            }
        };
        let mut sent = false;
        if live {
            metrics::counter!(crate::metrics::PUSH_SKIPPED, "reason" => "live").increment(1);
        } else {
            let notification = Notification {
                conversation_id: due.conversation_id.clone(),
                conversation_title: Some(due.group_name.clone().unwrap_or_else(|| due.sender_name.clone())),
                message_id: due.message_id.clone(),
                sequence_number: due.sequence_number,
                count: due.count,
                sender_name: Some(due.sender_name.clone()),
                preview: due.text.clone(),
                badge: u32::try_from(due.unread).ok(),
            }
            .with_preview(inner.settings.preview);
            for subscription in &due.subscriptions {
                let Some(target) = target_of(subscription) else {
                    tracing::warn!(subscription = %subscription.subscription.subscription_id, "push: stored subscription unusable; deleted");
                    let _ = inner
                        .store
                        .forget_push_subscription(&subscription.subscription.subscription_id)
                        .await;
                    continue;
                };
                match inner.providers.send(&target, &notification, &retry_policy()).await {
                    Ok(_) => {
                        sent = true;
                        let kind = subscription.kind().as_str();
                        metrics::counter!(crate::metrics::PUSH_COALESCED, "provider" => kind)
                            .increment(u64::from(due.count.saturating_sub(1)));
                    }
                    Err(PushError::Gone(reason)) => {
                        tracing::info!(%reason, kind = subscription.kind().as_str(), "push: subscription gone; deleted");
                        if let Err(e) = inner
                            .store
                            .forget_push_subscription(&subscription.subscription.subscription_id)
                            .await
                        {
                            tracing::warn!(error = %e, "push: gone subscription not deleted");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, kind = subscription.kind().as_str(), "push not delivered");
                    }
                }
            }
        }
        let done = PushDone {
            node: inner.node_id.clone(),
            user_id: due.user_id,
            device_id: due.device_id,
            conversation_id: due.conversation_id,
            count: due.count,
            sent,
            now: now_millis(),
            coalesce_ms: inner.settings.coalesce.as_millis() as i64,
        };
        if let Err(e) = inner.store.finish_push(done).await {
            // The lease runs out and another round sends it again.
            tracing::warn!(error = %e, "push: finishing a push failed");
        }
    }
}

/// What a stored subscription is sent to; `None` when what was stored no longer parses.
fn target_of(s: &StoredPushSubscription) -> Option<Target> {
    match s.kind() {
        PushKind::WebPush => {
            let endpoint = url::Url::parse(s.endpoint.as_deref()?).ok()?;
            let keys = WebPushKeys::parse(s.p256dh.as_deref()?, s.auth.as_deref()?).ok()?;
            Some(Target::WebPush { endpoint, keys })
        }
        PushKind::Fcm => Target::fcm(s.token.as_deref()?).ok(),
        PushKind::Apns => Target::apns(s.token.as_deref()?).ok(),
        PushKind::Webhook => Some(Target::webhook(s.user_id.clone(), s.subscription.device_id.clone())),
    }
}
