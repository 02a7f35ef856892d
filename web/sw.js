// The web client's service worker, served at /sw.js (scope `/`; app-push.js registers it when push
// is turned on). It owns what happens while no page needs to be open:
//
//   push                     a notification per conversation (tag = conversationId, so a later
//                            push replaces the earlier one and alerts again), its text from what
//                            the server's preview setting put in the payload; the app badge
//   notificationclick        focus an open Confab window and tell it to open the conversation
//                            ({type: 'confab.open', conversationId}), or open /?conversation=ID
//   pushsubscriptionchange   subscribe again and hand the new subscription to the open windows
//                            ({type: 'confab.pushsubscriptionchange', subscription}), which
//                            register it with the server (the worker holds no session token)
//
// A classic script with no imports and no fetch handler: nothing is cached, pages load as usual.
// Payload (web/sdk/types/proto.d.ts, PushPayload): {conversationId, messageId, sequenceNumber,
// count, senderName?, preview?, title?}; names and text only as far as `--push-preview` allows.

const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/** @typedef {import('./sdk/types/proto.js').PushPayload} PushPayload */

/** A new version takes over at once: there is no cache whose contents could be mixed. */
sw.addEventListener('install', () => {
  sw.skipWaiting();
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(sw.clients.claim());
});

/** @param {unknown} v  trimmed text, or '' for anything that is not a non-empty string */
function text(v) {
  return typeof v === 'string' ? v.trim() : '';
}

/**
 * The payload of a push, or null when there is none or it is not one (not JSON, no conversation).
 * @param {PushMessageData | null} data
 * @returns {PushPayload | null}
 */
function payloadOf(data) {
  if (!data) return null;
  let p;
  try {
    p = data.json();
  } catch {
    return null;
  }
  if (!p || typeof p !== 'object' || !text(p.conversationId)) return null;
  return p;
}

/**
 * The notification a payload shows: the conversation's title (else "Confab"); the preview (a
 * group's prefixed with the sender's name), else "New message" or "N new messages" and who sent
 * them when the payload names them. A push with no usable payload says "New message".
 * @param {PushPayload | null} p
 * @returns {{ title: string, options: NotificationOptions & { renotify: boolean } }}
 */
function notificationOf(p) {
  if (!p) return { title: 'Confab', options: { body: 'New message', tag: 'confab', renotify: true, data: { count: 1 } } };
  const title = text(p.title) || 'Confab';
  const sender = text(p.senderName);
  const preview = text(p.preview);
  const count = Number.isInteger(p.count) && p.count > 1 ? p.count : 1;
  let body;
  if (preview) {
    // In a direct chat the title is the sender: no need to say it twice.
    body = (sender && sender !== title ? `${sender}: ` : '') + preview;
    if (count > 1) body += `\n${count} new messages`;
  } else {
    body = (count > 1 ? `${count} new messages` : 'New message') + (sender ? ` from ${sender}` : '');
  }
  return { title, options: { body, tag: p.conversationId, renotify: true, data: p } };
}

/** The app badge: the messages counted by the notifications still shown (none: cleared). */
async function updateBadge() {
  const nav = sw.navigator;
  if (!('setAppBadge' in nav)) return;
  try {
    const shown = await sw.registration.getNotifications();
    const total = shown.reduce((n, x) => n + (Number(x.data?.count) || 1), 0);
    if (total) await nav.setAppBadge(total);
    else await nav.clearAppBadge();
  } catch {
    /* badges need an installed app on some platforms: nothing to show then */
  }
}

sw.addEventListener('push', (event) => {
  const { title, options } = notificationOf(payloadOf(event.data));
  event.waitUntil(sw.registration.showNotification(title, options).then(updateBadge));
});

/** The open windows of the app itself (not, say, the API docs page on the same origin). */
async function appWindows() {
  const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return all.filter((c) => new URL(c.url).pathname === '/');
}

/**
 * Shows a conversation: in an open window of the app (the focused or a visible one first), told
 * by a message, else in a new window that opens it from its address.
 * @param {string} conversationId  '' for a push that named none: just the app
 */
async function show(conversationId) {
  const windows = await appWindows();
  const win = windows.find((c) => c.focused) || windows.find((c) => c.visibilityState === 'visible') || windows[0];
  if (win) {
    try {
      await win.focus();
    } catch {
      /* focusing needs the click's user activation; the window is told all the same */
    }
    if (conversationId) win.postMessage({ type: 'confab.open', conversationId });
    return;
  }
  await sw.clients.openWindow(conversationId ? '/?conversation=' + encodeURIComponent(conversationId) : '/');
}

sw.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = text(event.notification.data?.conversationId);
  event.waitUntil(show(conversationId).then(updateBadge));
});

/**
 * The push service replaced or dropped the subscription: subscribe again with the same server key
 * (or the one the server publishes) and give the new subscription to the open windows, which send
 * it to the server. With no window open, the app re-registers it when it next starts.
 * @param {PushSubscription | null | undefined} old
 * @param {PushSubscription | null | undefined} replacement
 */
async function resubscribe(old, replacement) {
  let subscription = replacement;
  if (!subscription) {
    /** @type {BufferSource | string | null | undefined} */
    let key = old?.options?.applicationServerKey;
    if (!key) {
      const response = await fetch('/api/v1/push/config');
      key = response.ok ? (await response.json()).webPushPublicKey : null;
    }
    if (!key) return;
    subscription = await sw.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  const message = { type: 'confab.pushsubscriptionchange', subscription: subscription.toJSON(), oldEndpoint: old?.endpoint || null };
  for (const win of await appWindows()) win.postMessage(message);
}

sw.addEventListener('pushsubscriptionchange', (event) => {
  // Not in every browser's typings: {oldSubscription, newSubscription}, either may be null.
  const change = /** @type {ExtendableEvent & { oldSubscription?: PushSubscription | null, newSubscription?: PushSubscription | null }} */ (
    event
  );
  change.waitUntil(resubscribe(change.oldSubscription, change.newSubscription));
});
