//! The [`Provider`] trait every push kind implements, [`Providers`] (the configured ones, by
//! kind), and the HTTP client options they share ([`ClientOptions`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_proto::PushKind;

use crate::{send_with_retries, Attempts, Notification, PushError, RetryPolicy, Target};

/// One way of delivering notifications (Web Push, FCM, APNs, webhook).
///
/// [`Provider::send`] makes one attempt: no retries beyond a provider's own credential refresh
/// (FCM on `401`, APNs on `ExpiredProviderToken`, each at most once), no sleeping. Retrying is
/// [`send_with_retries`]'s job. A send is not idempotent at the push service: if the response is
/// lost, the retry delivers the notification again, and the collapse key
/// ([`Notification::collapse_key`]) makes the newer copy replace the older one where the push
/// service supports it.
///
/// Providers are cheap to share (`Arc<dyn Provider>`): each holds one HTTP client whose
/// connections are reused across sends, and caches its credentials (VAPID and APNs tokens, the FCM
/// access token).
#[async_trait]
pub trait Provider: Send + Sync {
    /// The subscription kind this provider delivers to.
    fn kind(&self) -> PushKind;

    /// Delivers `notification` to `target` once. A target of another kind is a
    /// [`PushError::Config`].
    async fn send(&self, target: &Target, notification: &Notification) -> Result<(), PushError>;
}

/// The configured providers, one per kind.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: HashMap<PushKind, Arc<dyn Provider>>,
}

impl Providers {
    pub fn new() -> Providers {
        Providers::default()
    }

    /// Adds `provider`, replacing one of the same kind.
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Providers {
        self.insert(provider);
        self
    }

    /// Adds `provider`, replacing one of the same kind.
    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.by_kind.insert(provider.kind(), provider);
    }

    pub fn get(&self, kind: PushKind) -> Option<&Arc<dyn Provider>> {
        self.by_kind.get(&kind)
    }

    /// The kinds configured, in [`PushKind::ALL`]'s order (`kinds` of `GET /api/v1/push/config`).
    pub fn kinds(&self) -> Vec<PushKind> {
        PushKind::ALL.into_iter().filter(|k| self.by_kind.contains_key(k)).collect()
    }

    /// [`send_with_retries`] with the provider of `target`'s kind; a kind not configured is a
    /// [`PushError::Config`] (a subscription registered before the operator turned the kind off).
    pub async fn send(
        &self,
        target: &Target,
        notification: &Notification,
        policy: &RetryPolicy,
    ) -> Result<Attempts, PushError> {
        let Some(provider) = self.get(target.kind()) else {
            return Err(PushError::Config(format!("no {} provider configured", target.kind().as_str())));
        };
        send_with_retries(provider.as_ref(), target, notification, policy).await
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("kinds", &self.kinds()).finish()
    }
}

/// How a provider's HTTP client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The longest one request may take, connecting included (default 10 s); a request that
    /// takes longer is a [`PushError::Retry`].
    pub timeout: Duration,
    /// Certificates (DER) trusted besides the system's roots. For tests that run a push service
    /// with a self-signed certificate; empty in a deployment.
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions { timeout: Duration::from_secs(10), extra_root_certs: Vec::new() }
    }
}
