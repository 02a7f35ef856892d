// End-to-end: push notifications and muting in the web client, real Chromium against a real
// server. The service worker (/sw.js) gets pushes through the DevTools protocol
// (`ServiceWorker.deliverPushMessage`, exactly what a push service's message becomes) and shows
// them: title, body per preview level, one notification per conversation (tag), a garbled
// payload as "New message"; a click on one (a real NotificationEvent dispatched in the worker)
// opens its conversation in the open window, and `/?conversation=ID` opens it in a new one.
// Settings turn push on (permission, the worker, the browser's subscription registered with the
// server) and off (deleted there); a conversation muted for an hour from its header shows a
// crossed-out bell in the list, stays muted after a reload and on another device, and unmutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, send } from './harness.js';

const T = 120000;
let server;
let chrome;
const users = {};
const contexts = [];
const pageErrors = [];
const stamp = Date.now().toString(36);

/** A real-looking browser key pair's public half and auth secret (the server checks the point). */
const P256DH = 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4';
const AUTH = 'BTBZMqHH6r4Tts7J_aSIgg';

/**
 * A fresh browser profile (a device); `notifications`: the permission granted, as if the user had
 * allowed the site once.
 */
async function newContext({ notifications = true } = {}) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15000);
  contexts.push(context);
  if (notifications) await context.grantPermissions(['notifications'], { origin: server.url });
  return context;
}

async function newUser(name, displayName, options) {
  const context = await newContext(options?.context);
  if (options?.init) await context.addInitScript(options.init.script, options.init.arg);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  const username = `${name}_${stamp}`;
  const ids = await register(page, server.url, username, displayName);
  users[name] = { context, page, username, displayName, ...ids };
  return users[name];
}

/** An authenticated REST call as `user`; resolves to the parsed body (null for 204). */
async function api(user, method, path, body) {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return res.status === 204 ? null : JSON.parse(text);
}

/** The notifications the page's service worker registration shows: [{title, body, tag, renotify, data}]. */
function notifications(page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/');
    const shown = registration ? await registration.getNotifications() : [];
    return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, renotify: n.renotify, data: n.data }));
  });
}

/**
 * Waits until the notifications the page's service worker shows are exactly `want` (as
 * `notifications` lists them), and fails with the difference if they never are: the list is read
 * again until it matches, so a read racing the notification being stored cannot fail the test, and
 * one that was shown and then closed still does.
 */
async function notificationsBecome(page, want, timeout = 15000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const shown = await notifications(page);
    if (isDeepStrictEqual(shown, want)) return;
    if (Date.now() > deadline) assert.deepEqual(shown, want);
    await page.waitForTimeout(20);
  }
}

/** Waits until the page's service worker shows a notification matching `want` ({tag, body, …}). */
function notificationShown(page, want) {
  return until(
    page,
    async (want) => {
      const registration = await navigator.serviceWorker.getRegistration('/');
      const shown = registration ? await registration.getNotifications() : [];
      return shown.some((n) => Object.entries(want).every(([k, v]) => n[k] === v));
    },
    want,
  );
}

/**
 * Registers /sw.js in the page and resolves to what `ServiceWorker.deliverPushMessage` needs: the
 * DevTools session and the registration's id (from `workerRegistrationUpdated`), once active.
 */
async function serviceWorker(page) {
  const cdp = await page.context().newCDPSession(page);
  const scope = server.url + '/';
  const registered = new Promise((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const r = registrations.find((x) => x.scopeURL === scope && !x.isDeleted);
      if (r) resolve(r.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const script = await page.evaluate(async () => {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    const ready = await navigator.serviceWorker.ready;
    return { url: ready.active.scriptURL, scope: ready.scope };
  });
  assert.deepEqual(script, { url: server.url + '/sw.js', scope });
  return { cdp, registrationId: await registered, origin: scope };
}

/** A push message as the push service delivers it: `data` is the (decrypted) payload text. */
function deliver(sw, data) {
  return sw.cdp.send('ServiceWorker.deliverPushMessage', { origin: sw.origin, registrationId: sw.registrationId, data });
}

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
});

let conversationId;

test('the service worker shows pushes and a click opens their conversation', { timeout: T }, async () => {
  const alice = await newUser('alice', 'Alice Liddell');
  const bob = await newUser('bob', 'Bob Marley');
  await startDirectChat(alice.page, bob.username, bob.displayName);
  await send(alice.page, 'see you at noon?');
  conversationId = decodeURIComponent(await alice.page.evaluate(() => location.hash.slice(1)));
  const sw = await serviceWorker(alice.page);
  // Close the chat first: the app dismisses the open conversation's notifications whenever it
  // draws its header again (someone looking at it needs none), which would race with reading
  // them here. Closed, the click below must also open it.
  await alice.page.keyboard.press('Escape');
  await until(alice.page, () => document.getElementById('chat-view').hidden);

  // As the server sends it with `--push-preview full`: a direct chat is titled with the sender.
  const full = { conversationId, messageId: 'm1', sequenceNumber: 2, count: 1, title: bob.displayName, senderName: bob.displayName, preview: 'yes, at noon' };
  await deliver(sw, JSON.stringify(full));
  await notificationsBecome(alice.page, [{ title: bob.displayName, body: 'yes, at noon', tag: conversationId, renotify: true, data: full }]);

  // The default (`none`): no names, no text. Three messages since the last push; it replaces the
  // conversation's earlier notification (same tag) instead of adding one.
  const hidden = { conversationId, messageId: 'm4', sequenceNumber: 5, count: 3 };
  await deliver(sw, JSON.stringify(hidden));
  await notificationsBecome(alice.page, [{ title: 'Confab', body: '3 new messages', tag: conversationId, renotify: true, data: hidden }]);

  // `sender`: who, not what.
  await deliver(sw, JSON.stringify({ ...hidden, count: 1, title: bob.displayName, senderName: bob.displayName }));
  await notificationShown(alice.page, { tag: conversationId, body: `New message from ${bob.displayName}` });

  // A payload the worker cannot read still shows something (browsers require it).
  await deliver(sw, 'garbled{');
  await notificationShown(alice.page, { tag: 'confab', body: 'New message' });
  const generic = (await notifications(alice.page)).find((n) => n.tag === 'confab');
  assert.equal(generic.title, 'Confab');
  await alice.page.evaluate(async () => {
    for (const n of await (await navigator.serviceWorker.getRegistration('/')).getNotifications({ tag: 'confab' })) n.close();
  });
  await alice.page.screenshot({ path: join(artifactsDir(), 'push-notification-page.png') });

  // Headless Chromium takes a notification away about 25 s after showing it (its pop-up times out
  // and it has no notification centre to keep it in), so the one clicked below is shown again
  // just before: slow steps above cannot make it vanish under the click.
  await deliver(sw, JSON.stringify(hidden));
  await notificationsBecome(alice.page, [{ title: 'Confab', body: '3 new messages', tag: conversationId, renotify: true, data: hidden }]);

  // A click: the worker's own notificationclick handler, given a real NotificationEvent for the
  // notification shown (headless Chromium has no notification to click). It closes it and tells
  // this window, which opens the conversation. Untrusted events may not call waitUntil, so the
  // test takes the handler's promise itself.
  const [worker] = alice.context.serviceWorkers();
  assert.equal(worker.url(), server.url + '/sw.js');
  await worker.evaluate(async (tag) => {
    const [notification] = await self.registration.getNotifications({ tag });
    const event = new NotificationEvent('notificationclick', { notification });
    const waits = [];
    Object.defineProperty(event, 'waitUntil', { value: (p) => waits.push(p) });
    self.dispatchEvent(event);
    await Promise.all(waits);
  }, conversationId);
  await until(alice.page, (name) => !document.getElementById('chat-view').hidden && document.getElementById('chat-title').textContent === name, bob.displayName);
  assert.equal(decodeURIComponent(await alice.page.evaluate(() => location.hash.slice(1))), conversationId);
  assert.deepEqual(await notifications(alice.page), [], 'the clicked notification is closed');

  // With no window open, the worker opens `/?conversation=ID`: that address opens it (once signed
  // in) and leaves the address bar as the app's own.
  const page = await alice.context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`alice (2nd window): ${err.message}`));
  await page.goto(`${server.url}/?conversation=${encodeURIComponent(conversationId)}`);
  await until(page, (name) => document.getElementById('chat-title')?.textContent === name, bob.displayName);
  assert.equal(await page.evaluate(() => location.search), '');
  assert.equal(decodeURIComponent(await page.evaluate(() => location.hash.slice(1))), conversationId);
  await page.close();
  assert.deepEqual(pageErrors, []);
});

// Turning push on from the settings. Headless Chromium here reaches no push service (Google's FCM
// for Chromium: no network, no API key in this build), so `pushManager.subscribe` can only fail.
// In this test alone the page's PushManager is replaced by one that hands out a subscription
// shaped exactly like a real one (an https endpoint on a push service, a real P-256 public key and
// auth secret, which the server checks), so everything else — permission, the service worker,
// the app's calls, the server's checks and storage — is the real thing.
const FAKE_PUSH_SERVICE = ({ p256dh, auth }) => {
  const calls = [];
  let current = null;
  const bytes = (key) => (typeof key === 'string' ? key : btoa(String.fromCharCode(...new Uint8Array(ArrayBuffer.isView(key) ? key.buffer : key))));
  window.fakePushService = { calls };
  PushManager.prototype.subscribe = async function (options) {
    calls.push({ userVisibleOnly: options.userVisibleOnly, applicationServerKey: bytes(options.applicationServerKey) });
    const endpoint = `https://push.example.com/sub/${crypto.randomUUID()}`;
    const key = options.applicationServerKey;
    current = {
      endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: ArrayBuffer.isView(key) ? key.slice().buffer : key },
      getKey: () => null,
      toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
      unsubscribe: async () => {
        calls.push('unsubscribe');
        current = null;
        return true;
      },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () {
    return current;
  };
};

test('settings turn push on for this device (registered on the server) and off (deleted)', { timeout: T }, async () => {
  const carol = await newUser('carol', 'Carol King', { init: { script: FAKE_PUSH_SERVICE, arg: { p256dh: P256DH, auth: AUTH } } });
  const { page } = carol;
  const config = await (await fetch(`${server.url}/api/v1/push/config`)).json();
  assert.ok(config.webPushPublicKey && config.kinds.includes('webpush'), JSON.stringify(config));

  await page.getByTestId('settings-btn').click();
  await page.locator('[data-testid=push-status][data-state=off]').waitFor();
  assert.equal(await page.getByTestId('push-toggle').isChecked(), false);
  assert.deepEqual((await api(carol, 'GET', '/push/subscriptions')).subscriptions, []);

  await page.getByTestId('push-toggle').click();
  await page.locator('[data-testid=push-status][data-state=on]').waitFor();
  assert.equal(await page.getByTestId('push-toggle').isChecked(), true);
  assert.match(await page.getByTestId('push-status').textContent(), /^On/);
  await page.screenshot({ path: join(artifactsDir(), 'push-settings-on.png') });
  // Subscribed with what the browser needs: user-visible pushes, signed with the server's key.
  const [call] = await page.evaluate(() => window.fakePushService.calls);
  assert.equal(call.userVisibleOnly, true);
  assert.equal(Buffer.from(call.applicationServerKey, 'base64').toString('base64url'), config.webPushPublicKey);
  // The worker that shows the pushes is installed, for the whole app.
  assert.deepEqual(
    await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      return [r.active?.scriptURL, r.scope];
    }),
    [server.url + '/sw.js', server.url + '/'],
  );
  // The server has this device's subscription.
  const deviceId = await page.evaluate(() => window.confab.deviceId);
  const { subscriptions } = await api(carol, 'GET', '/push/subscriptions');
  assert.equal(subscriptions.length, 1);
  assert.equal(subscriptions[0].kind, 'webpush');
  assert.equal(subscriptions[0].deviceId, deviceId);

  // Reopened, the settings say so.
  await page.getByTestId('settings-close').click();
  await page.getByTestId('settings-btn').click();
  await page.locator('[data-testid=push-status][data-state=on]').waitFor();

  await page.getByTestId('push-toggle').click();
  await page.locator('[data-testid=push-status][data-state=off]').waitFor();
  assert.deepEqual((await api(carol, 'GET', '/push/subscriptions')).subscriptions, [], 'deleted on the server');
  assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/')).pushManager.getSubscription()), null);
  assert.deepEqual(await page.evaluate(() => window.fakePushService.calls.slice(1)), ['unsubscribe']);
  assert.equal(await page.getByTestId('push-error').isVisible(), false);

  // On again, then signing out drops it: the next person on this browser gets none of it.
  await page.getByTestId('push-toggle').click();
  await page.locator('[data-testid=push-status][data-state=on]').waitFor();
  assert.equal((await api(carol, 'GET', '/push/subscriptions')).subscriptions.length, 1);
  await page.getByTestId('settings-logout').click();
  await page.getByTestId('auth-form').waitFor();
  const after = await fetch(`${server.url}/api/v1/push/subscriptions`, { headers: { authorization: `Bearer ${carol.token}` } });
  assert.equal(after.status, 401, 'signed out');
  assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/')).pushManager.getSubscription()), null);
  assert.deepEqual(pageErrors, []);
});

test('a browser without the permission asks for it; denied, push is shown as blocked', { timeout: T }, async () => {
  // No grant in this profile: the permission is still to be asked ("default"), and headless
  // Chromium answers the prompt with "denied".
  const dave = await newUser('dave', 'Dave Brubeck', { context: { notifications: false } });
  const { page } = dave;
  await page.getByTestId('settings-btn').click();
  await page.locator('[data-testid=push-status][data-state=off]').waitFor();
  assert.equal(await page.evaluate(() => Notification.permission), 'default');
  await page.getByTestId('push-toggle').click();
  await page.locator('[data-testid=push-status][data-state=blocked]').waitFor();
  assert.match(await page.getByTestId('push-status').textContent(), /^Blocked: notifications are blocked for this site/);
  assert.equal(await page.getByTestId('push-toggle').isChecked(), false);
  assert.equal(await page.getByTestId('push-toggle').isDisabled(), true);
  assert.deepEqual((await api(dave, 'GET', '/push/subscriptions')).subscriptions, []);
  assert.equal(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration('/'))), false, 'no worker without permission');
  // Reopened, the settings say so at once.
  await page.getByTestId('settings-close').click();
  await page.getByTestId('settings-btn').click();
  await page.locator('[data-testid=push-status][data-state=blocked]').waitFor();
  assert.deepEqual(pageErrors, []);
});

test('mute a conversation for an hour from its header: shown, kept after a reload and on another device; unmute', { timeout: T }, async () => {
  const { alice, bob } = users;
  const { page } = alice;
  const item = page.locator(`[data-testid=conv-item][data-name="${bob.displayName}"]`);
  await until(page, (name) => document.getElementById('chat-title').textContent === name, bob.displayName);
  assert.equal(await item.getByTestId('conv-muted').count(), 0, 'not muted: no bell');

  const before = Date.now();
  await page.getByTestId('mute-btn').click();
  await page.getByTestId('mute-dialog').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('mute-unmute').isVisible(), false);
  await page.getByTestId('mute-1h').click();
  await page.getByTestId('mute-dialog').waitFor({ state: 'hidden' });
  await page.locator('[data-testid=mute-btn][data-muted=true]').waitFor();
  await item.getByTestId('conv-muted').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('mute-btn').getAttribute('aria-label'), /^Muted until /);
  assert.match(await item.getAttribute('data-muted'), /true/);
  await page.screenshot({ path: join(artifactsDir(), 'push-muted.png') });
  // On the server: muted for an hour from the click.
  const held = (await api(alice, 'GET', '/conversations')).conversations.find((c) => c.conversationId === conversationId);
  assert.equal(held.muted, true);
  assert.ok(held.mutedUntil >= before + 3600_000 && held.mutedUntil <= Date.now() + 3600_000, `${held.mutedUntil}`);

  // After a reload, and on a device that never saw the change (its state from the server only).
  await page.reload();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await page.locator(`[data-testid=conv-item][data-name="${bob.displayName}"] [data-testid=conv-muted]`).waitFor({ state: 'visible' });
  const other = await (await newContext()).newPage();
  await other.goto(server.url + '/');
  await other.getByTestId('auth-username').fill(alice.username);
  await other.getByTestId('auth-password').fill('correct horse battery');
  await other.getByTestId('auth-submit').click();
  await other.locator(`[data-testid=conv-item][data-name="${bob.displayName}"] [data-testid=conv-muted]`).waitFor({ state: 'visible' });
  await other.close();

  // Unmute from the header's dialog, which says until when.
  await page.locator(`[data-testid=conv-item][data-name="${bob.displayName}"]`).click();
  await page.locator('[data-testid=mute-btn][data-muted=true]').waitFor();
  await page.getByTestId('mute-btn').click();
  assert.match(await page.getByTestId('mute-state').textContent(), /^Muted until /);
  await page.getByTestId('mute-unmute').click();
  await page.getByTestId('mute-dialog').waitFor({ state: 'hidden' });
  await page.locator('[data-testid=mute-btn][data-muted=false]').waitFor();
  await page.locator(`[data-testid=conv-item][data-name="${bob.displayName}"] [data-testid=conv-muted]`).waitFor({ state: 'hidden' });
  let now = (await api(alice, 'GET', '/conversations')).conversations.find((c) => c.conversationId === conversationId);
  assert.equal(now.muted, false);
  assert.equal(now.mutedUntil, undefined);

  // Until unmuted: no end on the server.
  await page.getByTestId('mute-btn').click();
  await page.getByTestId('mute-forever').click();
  await page.locator('[data-testid=mute-btn][data-muted=true]').waitFor();
  assert.equal(await page.getByTestId('mute-btn').getAttribute('aria-label'), 'Muted until you unmute. Change or unmute');
  now = (await api(alice, 'GET', '/conversations')).conversations.find((c) => c.conversationId === conversationId);
  assert.deepEqual([now.muted, now.mutedUntil], [true, undefined]);
  assert.deepEqual(pageErrors, []);
});
