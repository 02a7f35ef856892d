//! Push notifications: what the server can push to, a device's subscriptions, and muting a
//! conversation.

use confab_proto::{
    NotificationSettings, PushConfig, PushKind, PushSubscription, PushSubscriptionList,
    PushSubscriptionRequest, WebPushKeys,
};
use reqwest::Method;

use crate::rest::encode;
use crate::{Client, Result};

impl Client {
    /// `GET /api/v1/push/config`: the kinds this server pushes to and its VAPID public key.
    pub async fn push_config(&self) -> Result<PushConfig> {
        self.get("/api/v1/push/config").await
    }

    /// Registers `device_id` for pushes (replacing its earlier subscription of the same kind).
    pub async fn subscribe_push(&self, request: &PushSubscriptionRequest) -> Result<PushSubscription> {
        Ok(self.post("/api/v1/push/subscriptions", request).await?.1)
    }

    /// A browser's Web Push subscription (`endpoint` and its `p256dh`/`auth` keys, base64url).
    pub async fn subscribe_web_push(
        &self,
        device_id: &str,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<PushSubscription> {
        self.subscribe_push(&PushSubscriptionRequest {
            device_id: device_id.to_string(),
            kind: PushKind::WebPush,
            endpoint: Some(endpoint.to_string()),
            keys: Some(WebPushKeys { p256dh: p256dh.to_string(), auth: auth.to_string() }),
            token: None,
        })
        .await
    }

    /// The caller's subscriptions, oldest first.
    pub async fn push_subscriptions(&self) -> Result<Vec<PushSubscription>> {
        Ok(self.get::<PushSubscriptionList>("/api/v1/push/subscriptions").await?.subscriptions)
    }

    /// Deletes one of the caller's subscriptions.
    pub async fn unsubscribe_push(&self, subscription_id: &str) -> Result<()> {
        let path = format!("/api/v1/push/subscriptions/{}", encode(subscription_id));
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await?;
        Ok(())
    }

    /// Mutes the conversation's pushes until `muted_until` (ms since the epoch), or until unmuted
    /// when `None`; returns the setting as it now stands.
    pub async fn mute(
        &self,
        conversation_id: &str,
        muted_until: Option<i64>,
    ) -> Result<NotificationSettings> {
        self.set_notifications(conversation_id, &NotificationSettings { muted: true, muted_until }).await
    }

    pub async fn unmute(&self, conversation_id: &str) -> Result<NotificationSettings> {
        self.set_notifications(conversation_id, &NotificationSettings { muted: false, muted_until: None })
            .await
    }

    /// `PUT /api/v1/conversations/{id}/notifications`.
    pub async fn set_notifications(
        &self,
        conversation_id: &str,
        settings: &NotificationSettings,
    ) -> Result<NotificationSettings> {
        let path = format!("/api/v1/conversations/{}/notifications", encode(conversation_id));
        Ok(self.call(Method::PUT, &path, Some(settings)).await?.1)
    }
}
