// Push notifications and muting (`client.pushConfig()`, `subscribeWebPush`, `mute`, …): what the
// server can push to (`GET /push/config`, no session needed), this user's subscriptions under
// `/push/subscriptions` (one per device and kind: subscribing again replaces the device's earlier
// one), and a conversation's notification setting (`PUT /conversations/{id}/notifications`),
// which the conversation held here (`muted`, `mutedUntil`, kept in local storage) follows at once.
// The browser's side of Web Push (permission, service worker, `pushManager.subscribe`) stays with
// the app: `applicationServerKey` turns the server's key into what `pushManager.subscribe` takes,
// and `subscribeWebPush` hands the resulting browser subscription to the server.

import { rest } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').PushConfig} PushConfig */
/** @typedef {import('./types/proto.js').PushKind} PushKind */
/** @typedef {import('./types/proto.js').PushSubscriptionRequest} PushSubscriptionRequest */
/** @typedef {import('./types/proto.js').PushSubscription} ServerPushSubscription */
/** @typedef {import('./types/proto.js').PushSubscriptionList} PushSubscriptionList */
/** @typedef {import('./types/proto.js').NotificationSettings} NotificationSettings */
/** @typedef {import('./types/proto.js').Conversation} Conversation */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */

/**
 * A browser's Web Push subscription: the `PushSubscription` that `pushManager.subscribe` resolves
 * to, or its `toJSON()` (e.g. as a service worker posted it to a page).
 * @typedef {{ toJSON(): PushSubscriptionJSON } | PushSubscriptionJSON} BrowserPushSubscription
 */

/**
 * Whether a conversation's push notifications are silenced at `now`: muted, and either until
 * unmuted (no `mutedUntil`) or until a time still ahead. A timed mute ends by itself, so this is
 * the test to use rather than `muted` alone, which is as of when the server last answered.
 * @param {Pick<Conversation, 'muted' | 'mutedUntil'> | null | undefined} conversation
 * @param {number} [now]  ms since the epoch
 */
export function isMuted(conversation, now = Date.now()) {
  if (!conversation?.muted) return false;
  return conversation.mutedUntil == null || conversation.mutedUntil > now;
}

/**
 * The server's `webPushPublicKey` (base64url) as the bytes `pushManager.subscribe` takes for
 * `applicationServerKey` (browsers accept the string too, not all of them: bytes always work).
 * @param {string} base64url
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function applicationServerKey(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export class Push {
  /**
   * @param {object} deps
   * @param {(method: string, path: string, body?: unknown) => Promise<any>} deps.api  authenticated REST call
   * @param {() => string} deps.baseUrl  the server (for the one call that needs no session)
   * @param {() => string} deps.deviceId  this client's device id
   * @param {Conversations} deps.conversations  the conversations held here, told of a new setting
   */
  constructor({ api, baseUrl, deviceId, conversations }) {
    this.api = api;
    this.baseUrl = baseUrl;
    this.deviceId = deviceId;
    this.conversations = conversations;
  }

  /**
   * `GET /push/config`: the kinds of push this server delivers, and the VAPID public key a
   * browser subscribes with (absent when Web Push is off).
   * @returns {Promise<PushConfig>}
   */
  config() {
    return rest(this.baseUrl(), 'GET', '/push/config');
  }

  /**
   * `POST /push/subscriptions`: registers a device for push (`webpush`: `endpoint` and `keys`;
   * `fcm`/`apns`: `token`). The device's earlier subscription of the same kind is replaced.
   * A bad endpoint (not `https`, a private or loopback address) or bad keys, or a kind the server
   * does not deliver: `ConfabError` `INVALID_REQUEST`.
   * @param {{ deviceId?: string, kind: PushKind, endpoint?: string, keys?: { p256dh: string, auth: string }, token?: string }} request
   *   `deviceId` defaults to this client's
   * @returns {Promise<ServerPushSubscription>}
   */
  subscribe({ deviceId, kind, endpoint, keys, token }) {
    /** @type {PushSubscriptionRequest} */
    const body = { deviceId: deviceId || this.deviceId(), kind };
    if (endpoint !== undefined) body.endpoint = endpoint;
    if (keys !== undefined) body.keys = { p256dh: keys.p256dh, auth: keys.auth };
    if (token !== undefined) body.token = token;
    return this.api('POST', '/push/subscriptions', body);
  }

  /**
   * Registers a browser's Web Push subscription for this client's device. Rejects with a
   * `TypeError` (nothing sent) when it has no endpoint or keys.
   * @param {BrowserPushSubscription} subscription
   * @returns {Promise<ServerPushSubscription>}
   */
  async subscribeWebPush(subscription) {
    const json = 'toJSON' in subscription && typeof subscription.toJSON === 'function' ? subscription.toJSON() : subscription;
    const { endpoint, keys } = /** @type {PushSubscriptionJSON} */ (json);
    if (!endpoint || !keys?.p256dh || !keys?.auth) {
      throw new TypeError('a Web Push subscription needs endpoint, keys.p256dh and keys.auth');
    }
    return this.subscribe({ kind: 'webpush', endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  }

  /**
   * `GET /push/subscriptions`: this user's subscriptions, every device's.
   * @returns {Promise<ServerPushSubscription[]>}
   */
  async list() {
    /** @type {PushSubscriptionList} */
    const { subscriptions } = await this.api('GET', '/push/subscriptions');
    return subscriptions;
  }

  /**
   * `DELETE /push/subscriptions/{id}`: that device gets no more pushes. `NOT_FOUND` unless it is
   * one of this user's.
   * @param {string} subscriptionId
   * @returns {Promise<void>}
   */
  async unsubscribe(subscriptionId) {
    await this.api('DELETE', `/push/subscriptions/${encodeURIComponent(subscriptionId)}`);
  }

  /**
   * `PUT /conversations/{id}/notifications`: mutes (until `mutedUntil`, ms; without it, until
   * unmuted) or unmutes a conversation for this user, on every device. A `mutedUntil` already
   * past unmutes; one more than a year ahead is refused (`INVALID_REQUEST`). The conversation
   * held here takes the answer (stored, then `conversation` and `conversations` events).
   * @param {string} conversationId
   * @param {{ muted: boolean, mutedUntil?: number | null }} settings
   * @returns {Promise<NotificationSettings>}
   */
  async setNotifications(conversationId, { muted, mutedUntil }) {
    /** @type {NotificationSettings} */
    const body = { muted };
    if (muted && mutedUntil != null) body.mutedUntil = mutedUntil;
    /** @type {NotificationSettings} */
    const settings = await this.api('PUT', `/conversations/${encodeURIComponent(conversationId)}/notifications`, body);
    this.conversations.setMuted(conversationId, settings);
    return settings;
  }
}
