//! Confab's push notification providers: how a notification reaches a device that has no live
//! connection, through a browser's push service (Web Push), Firebase Cloud Messaging, the Apple
//! Push Notification service, or the operator's own webhook.
//!
//! The server decides *whether* to push and *what*: which devices, what a [`Notification`] says,
//! which [`Preview`] setting applies. This crate only delivers one notification to one
//! subscription ([`Target`]) and says how it went ([`PushError`]), so the server knows whether to
//! delete the subscription ([`PushError::Gone`]) or just count the failure.
//!
//! # Using it
//!
//! 1. At start, build one provider per configured kind ([`WebPushProvider`], [`FcmProvider`],
//!    [`ApnsProvider`], [`WebhookProvider`]) and collect them in [`Providers`]. The VAPID key is
//!    the server's to keep: [`VapidKey::generate`] once, store
//!    [`VapidKey::private_key_base64url`], load it with [`VapidKey::from_base64url`]; serve
//!    [`VapidKey::public_key_base64url`] as `webPushPublicKey` in `GET /api/v1/push/config`.
//! 2. On `POST /api/v1/push/subscriptions`, validate with [`Target::web_push`], [`Target::fcm`] or
//!    [`Target::apns`] (with [`EndpointPolicy::validate`] for the endpoint) and answer
//!    `400 INVALID_REQUEST` with the [`TargetError`]'s text when they fail.
//! 3. For each device to notify: `notification.clone().with_preview(setting)`, then
//!    [`Providers::send`] (or [`send_with_retries`] with one provider). On
//!    `Err(PushError::Gone(_))`, delete the subscription; any other error leaves it alone.
//!
//! Delivery is at least once: a response lost after the push service took the message makes the
//! retry deliver it again. Every provider sends a per-conversation collapse key
//! ([`Notification::collapse_key`]) so the newer push replaces the older one wherever the push
//! service or the device supports it, and the webhook's event id is stable across retries.
//!
//! # Layout
//!
//! - [`notification`]: what is delivered ([`Notification`]), the [`Preview`] setting, the wire
//!   payload and the text a notification shows.
//! - [`target`]: where it goes ([`Target`]) and the validation of what a client registers.
//! - [`endpoint`]: which addresses a user-supplied Web Push endpoint may reach ([`EndpointPolicy`])
//!   and the resolver that enforces it when connecting.
//! - [`provider`]: the [`Provider`] trait, [`Providers`], the HTTP client options shared by every
//!   provider.
//! - [`retry`]: [`send_with_retries`] and its [`RetryPolicy`] (backoff with full jitter,
//!   `Retry-After`).
//! - [`webpush`]: RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID.
//! - [`fcm`]: Firebase Cloud Messaging HTTP v1 with a service account's OAuth2 token.
//! - [`apns`]: Apple Push Notification service over HTTP/2 with a token (`.p8`) key.
//! - [`webhook`]: a signed POST to the operator's endpoint.
//! - [`metrics`]: the names and labels of the counters [`send_with_retries`] increments.
//! - [`error`]: [`PushError`], [`TargetError`], [`EndpointError`].

pub mod apns;
pub mod endpoint;
pub mod error;
pub mod fcm;
mod http;
pub mod metrics;
pub mod notification;
pub mod provider;
pub mod retry;
pub mod target;
pub mod webhook;
pub mod webpush;

pub use apns::{ApnsConfig, ApnsEnvironment, ApnsKey, ApnsProvider};
pub use confab_proto::{PushKind, PushPayload};
pub use endpoint::{validate_endpoint, EndpointPolicy, PolicyResolver};
pub use error::{EndpointError, PushError, TargetError};
pub use fcm::{FcmConfig, FcmProvider, ServiceAccount};
pub use notification::{Notification, Preview};
pub use provider::{ClientOptions, Provider, Providers};
pub use retry::{send_with_retries, Attempts, RetryPolicy};
pub use target::{validate_apns_token, validate_fcm_token, Target, WebPushKeys};
pub use webhook::{WebhookConfig, WebhookProvider};
pub use webpush::{VapidKey, WebPushConfig, WebPushProvider};

// Every provider is usable as `Arc<dyn Provider>`.
const _: fn() = || {
    fn is_provider<P: Provider + 'static>() {}
    is_provider::<WebPushProvider>();
    is_provider::<FcmProvider>();
    is_provider::<ApnsProvider>();
    is_provider::<WebhookProvider>();
};
