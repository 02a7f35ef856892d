//! Push notifications: what a device registers so the server can reach it while it has no live
//! connection, and what a member sets to silence a conversation.

use serde::{Deserialize, Serialize};

/// How a subscription is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PushKind {
    /// A browser's push service (RFC 8030), payload encrypted to the browser (RFC 8291).
    #[serde(rename = "webpush")]
    WebPush,
    /// Firebase Cloud Messaging (HTTP v1), by registration token.
    Fcm,
    /// Apple Push Notification service, by device token.
    Apns,
    /// The operator's own endpoint, which gets every push of the device signed.
    Webhook,
}

impl PushKind {
    pub const ALL: [PushKind; 4] = [PushKind::WebPush, PushKind::Fcm, PushKind::Apns, PushKind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::WebPush => "webpush",
            PushKind::Fcm => "fcm",
            PushKind::Apns => "apns",
            PushKind::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<PushKind> {
        PushKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// `GET /api/v1/push/config`: what a client needs to subscribe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushConfig {
    /// The VAPID public key (base64url, uncompressed P-256 point) a browser passes to
    /// `pushManager.subscribe` as `applicationServerKey`; absent when Web Push is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub web_push_public_key: Option<String>,
    /// The kinds this server can deliver to.
    pub kinds: Vec<PushKind>,
}

/// A browser subscription's keys, as `PushSubscription.toJSON().keys` gives them (base64url).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebPushKeys {
    pub p256dh: String,
    pub auth: String,
}

/// `POST /api/v1/push/subscriptions`. `webpush` takes `endpoint` and `keys`; `fcm` and `apns`
/// take `token`; `webhook` takes nothing more (the operator's endpoint gets the device's pushes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushSubscriptionRequest {
    pub device_id: String,
    pub kind: PushKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub keys: Option<WebPushKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub token: Option<String>,
}

/// A subscription as its owner sees it (never its keys or token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushSubscription {
    pub subscription_id: String,
    pub device_id: String,
    pub kind: PushKind,
    #[serde(default)]
    pub created_at: i64,
}

/// `GET /api/v1/push/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushSubscriptionList {
    pub subscriptions: Vec<PushSubscription>,
}

/// `PUT /api/v1/conversations/{id}/notifications`: `muted` with no `mutedUntil` mutes until
/// unmuted; with one (ms since the epoch), until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    pub muted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub muted_until: Option<i64>,
}

/// What a push carries to the device (Web Push payload, FCM `data`, APNs custom keys, webhook
/// `notification`). `senderName` and `preview` are there only as far as the server's preview
/// setting allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushPayload {
    pub conversation_id: String,
    pub message_id: String,
    pub sequence_number: u64,
    /// Messages since the device's last push for this conversation (this one included).
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub preview: Option<String>,
    /// The conversation's name (a group's, or the other member's for a direct conversation), as
    /// far as the preview setting shows names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub title: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_write_as_the_protocol_names_them() {
        for kind in PushKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(PushKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(PushKind::parse("WebPush"), None);
    }

    #[test]
    fn a_subscription_request_reads_as_browsers_write_it() {
        let req: PushSubscriptionRequest = serde_json::from_str(
            r#"{"deviceId":"d1","kind":"webpush","endpoint":"https://push.example/x","keys":{"p256dh":"BA","auth":"AA"}}"#,
        )
        .unwrap();
        assert_eq!(req.kind, PushKind::WebPush);
        assert_eq!(req.keys.unwrap().auth, "AA");
    }
}
