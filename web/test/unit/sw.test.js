// Unit tests for the service worker (web/sw.js), run as the classic script it is in a Node `vm`
// context whose `self` is a fake ServiceWorkerGlobalScope: the notification each payload shows
// (title, body per preview level, tag, renotify, data; a missing or garbled payload), the app
// badge, a click focusing an open window of the app and telling it which conversation to open
// or else opening `/?conversation=ID`, and a replaced subscription handed to the open windows.
// web/test/e2e/push.test.js runs the same worker in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const SOURCE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sw.js'), 'utf8');

/** A fake window client. */
function windowClient(url, { focused = false, visibilityState = 'visible', focusFails = false } = {}) {
  return {
    url,
    focused,
    visibilityState,
    messages: [],
    focusCalls: 0,
    async focus() {
      this.focusCalls++;
      if (focusFails) throw new Error('InvalidAccessError: not allowed to focus a window');
      return this;
    },
    postMessage(m) {
      this.messages.push(structuredClone(m));
    },
  };
}

/** Loads sw.js with fakes; `dispatch(type, init)` fires an event and awaits its waitUntil. */
function worker({ windows = [], badge = true, config = { webPushPublicKey: 'SERVERKEY', kinds: ['webpush'] } } = {}) {
  const listeners = {};
  const shown = [];
  const opened = [];
  const badges = [];
  const subscribed = [];
  const fetched = [];
  const registration = {
    async showNotification(title, options) {
      const same = shown.findIndex((n) => n.tag === options.tag);
      const n = { title, ...structuredClone(options), close: () => shown.splice(shown.indexOf(n), 1) };
      if (same >= 0) shown.splice(same, 1, n);
      else shown.push(n);
    },
    async getNotifications() {
      return shown.map((n) => ({ ...n, close: n.close }));
    },
    pushManager: {
      async subscribe(options) {
        subscribed.push(options);
        return { endpoint: 'https://push.example.com/new', toJSON: () => ({ endpoint: 'https://push.example.com/new', keys: { p256dh: 'P', auth: 'A' } }) };
      },
    },
  };
  const navigator = badge
    ? { setAppBadge: async (n) => badges.push(n), clearAppBadge: async () => badges.push(0) }
    : {};
  const self = {
    registration,
    navigator,
    clients: {
      async matchAll(options) {
        assert.deepEqual({ ...options }, { type: 'window', includeUncontrolled: true }); // (another realm's object)
        return windows;
      },
      async openWindow(url) {
        opened.push(url);
        return null;
      },
      async claim() {},
    },
    skipWaiting() {},
    addEventListener(type, fn) {
      listeners[type] = fn;
    },
  };
  const fetch = async (url) => {
    fetched.push(url);
    return new Response(JSON.stringify(config), { status: 200 });
  };
  vm.runInContext(SOURCE, vm.createContext({ self, fetch, URL, console }));
  async function dispatch(type, init = {}) {
    const waits = [];
    listeners[type]({ ...init, waitUntil: (p) => waits.push(p) });
    await Promise.all(waits);
  }
  /** A push event's data: `raw` as the text of the message, or null for a push without one. */
  const push = (raw) =>
    dispatch('push', {
      data: raw === null ? null : { json: () => JSON.parse(raw), text: () => raw },
    });
  return { listeners, shown, opened, badges, subscribed, fetched, dispatch, push };
}

const payload = (fields) => JSON.stringify({ conversationId: 'c1', messageId: 'm1', sequenceNumber: 4, count: 1, ...fields });

test('a push shows the conversation title and the preview, tagged by conversation', async () => {
  const w = worker();
  await w.push(payload({ title: 'Night owls', senderName: 'Alice', preview: 'hi all' }));
  assert.equal(w.shown.length, 1);
  const n = w.shown[0];
  assert.equal(n.title, 'Night owls');
  assert.equal(n.body, 'Alice: hi all', 'a group: who wrote it before the text');
  assert.equal(n.tag, 'c1');
  assert.equal(n.renotify, true);
  assert.deepEqual(n.data, { conversationId: 'c1', messageId: 'm1', sequenceNumber: 4, count: 1, title: 'Night owls', senderName: 'Alice', preview: 'hi all' });
  assert.deepEqual(w.badges, [1]);

  // A direct chat is titled with the sender: not said twice. A later push replaces the earlier.
  await w.push(payload({ title: 'Alice', senderName: 'Alice', preview: 'and you?', count: 2 }));
  assert.equal(w.shown.length, 1);
  assert.equal(w.shown[0].title, 'Alice');
  assert.equal(w.shown[0].body, 'and you?\n2 new messages');
});

test('without a preview: "New message" or "N new messages", from whom when named; "Confab" untitled', async () => {
  const w = worker();
  await w.push(payload({ count: 1 }));
  assert.deepEqual([w.shown[0].title, w.shown[0].body], ['Confab', 'New message']);
  await w.push(payload({ conversationId: 'c2', count: 3 }));
  assert.deepEqual([w.shown[1].title, w.shown[1].body, w.shown[1].tag], ['Confab', '3 new messages', 'c2']);
  await w.push(payload({ conversationId: 'c3', count: 3, title: 'Bob', senderName: 'Bob' }));
  assert.deepEqual([w.shown[2].title, w.shown[2].body], ['Bob', '3 new messages from Bob']);
  await w.push(payload({ conversationId: 'c4', count: 1, senderName: 'Carol', preview: '   ' }));
  assert.equal(w.shown[3].body, 'New message from Carol', 'a blank preview is none');
  assert.deepEqual(w.badges, [1, 4, 7, 8], 'the badge counts every message still notified');
});

test('a missing or garbled payload still shows a generic notification', async () => {
  for (const raw of [null, 'not json{', '"a string"', '{"count":2}', 'null']) {
    const w = worker();
    await w.push(raw);
    assert.equal(w.shown.length, 1, String(raw));
    assert.deepEqual([w.shown[0].title, w.shown[0].body, w.shown[0].tag, w.shown[0].renotify], ['Confab', 'New message', 'confab', true], String(raw));
  }
});

test('no badge API: notifications all the same', async () => {
  const w = worker({ badge: false });
  await w.push(payload({ count: 2 }));
  assert.equal(w.shown[0].body, '2 new messages');
});

test('a click focuses an open window of the app and tells it to open the conversation', async () => {
  const docs = windowClient('http://chat.test/api/v1/docs', { focused: true });
  const background = windowClient('http://chat.test/#c9', { visibilityState: 'hidden' });
  const visible = windowClient('http://chat.test/', { focusFails: true });
  const w = worker({ windows: [docs, background, visible] });
  await w.push(payload({ conversationId: 'c 1', count: 2 }));
  const notification = w.shown[0];
  await w.dispatch('notificationclick', { notification });
  assert.equal(w.shown.length, 0, 'closed');
  assert.deepEqual(visible.messages, [{ type: 'confab.open', conversationId: 'c 1' }], 'the visible app window, though focusing failed');
  assert.equal(visible.focusCalls, 1);
  assert.deepEqual([docs.messages, background.messages], [[], []], 'not the API docs page, not a second window');
  assert.deepEqual(w.opened, []);
  assert.deepEqual(w.badges, [2, 0], 'cleared with the last notification');
});

test('a click with no window of the app open opens one at /?conversation=ID', async () => {
  const w = worker({ windows: [windowClient('http://chat.test/api/v1/docs')] });
  await w.push(payload({ conversationId: 'c/1&x' }));
  await w.dispatch('notificationclick', { notification: w.shown[0] });
  assert.deepEqual(w.opened, ['/?conversation=c%2F1%26x']);
  // A generic notification (no conversation) opens the app.
  await w.push(null);
  await w.dispatch('notificationclick', { notification: w.shown[0] });
  assert.deepEqual(w.opened, ['/?conversation=c%2F1%26x', '/']);
});

test('a replaced subscription goes to the open windows; a dropped one is renewed with the same key', async () => {
  const app = windowClient('http://chat.test/');
  const w = worker({ windows: [app] });
  const replacement = { endpoint: 'https://push.example.com/2', toJSON: () => ({ endpoint: 'https://push.example.com/2', keys: { p256dh: 'P2', auth: 'A2' } }) };
  await w.dispatch('pushsubscriptionchange', { oldSubscription: { endpoint: 'https://push.example.com/1', options: {} }, newSubscription: replacement });
  assert.deepEqual(app.messages, [
    { type: 'confab.pushsubscriptionchange', subscription: { endpoint: 'https://push.example.com/2', keys: { p256dh: 'P2', auth: 'A2' } }, oldEndpoint: 'https://push.example.com/1' },
  ]);
  assert.deepEqual(w.subscribed, []);

  // Dropped: subscribe again with the old subscription's key.
  const key = new Uint8Array([4, 1, 2]).buffer;
  await w.dispatch('pushsubscriptionchange', { oldSubscription: { endpoint: 'https://push.example.com/2', options: { applicationServerKey: key } }, newSubscription: null });
  assert.equal(w.subscribed.length, 1);
  assert.equal(w.subscribed[0].userVisibleOnly, true);
  assert.equal(w.subscribed[0].applicationServerKey, key);
  assert.equal(app.messages[1].subscription.endpoint, 'https://push.example.com/new');
  assert.deepEqual(w.fetched, []);

  // Nothing known: the key the server publishes.
  await w.dispatch('pushsubscriptionchange', {});
  assert.deepEqual(w.fetched, ['/api/v1/push/config']);
  assert.equal(w.subscribed[1].applicationServerKey, 'SERVERKEY');
  assert.equal(app.messages[2].oldEndpoint, null);
});
