// Confab web client: push notifications and muting, on top of the SDK (sdk-push.js) and the
// service worker (sw.js). The main app (app.js) calls in here at marked hooks:
//
//   settings       "Notifications": push on this device, on or off (asks the browser's permission,
//                  registers /sw.js, subscribes with the server's key and registers that with the
//                  server; off: unsubscribes here and deletes it on the server), and its state:
//                  on, off, blocked (permission denied) or unsupported (browser or server)
//   header         the bell: a dialog to mute the conversation for 1 hour, 8 hours, 1 week or until
//                  unmuted, or to unmute it; a crossed-out bell while it is muted
//   list           a crossed-out bell on muted conversations (a timed mute ends by itself: the
//                  views are rendered again when the soonest one runs out)
//   opening        a clicked notification: the service worker's {type: 'confab.open'} message to an
//                  open window, or the address `/?conversation=ID` of a new one (kept until signed
//                  in and the conversation is known); the open conversation's notifications are
//                  closed while the page is visible
//   re-registering the service worker's replaced subscription ({type:
//                  'confab.pushsubscriptionchange'}), and at sign-in one that changed while no
//                  window was open
//   signing out    this device's subscription is dropped (browser and server), so the next person
//                  to sign in here gets none of this user's notifications

import { ConfabError, applicationServerKey, isMuted } from './sdk/confab.js';

/** @typedef {import('./sdk/sdk-client.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/types/proto.js').PushConfig} PushConfig */
/** @typedef {import('./sdk/types/proto.js').Conversation} Conversation */

/**
 * What the main app shares.
 * @typedef {object} PushHooks
 * @property {() => ConfabClient | null} client  the signed-in client (null on the sign-in screen)
 * @property {() => string | null} current  the open conversation
 * @property {(conversationId: string) => void} open  opens a conversation
 * @property {() => void} rerender  renders the conversation list and the header again
 */

/**
 * Push on this device: `on` (subscribed here and registered with the server), `off`, `blocked`
 * (the browser's permission is denied) or `unsupported` (by this browser, or the server has Web
 * Push off).
 * @typedef {'on' | 'off' | 'blocked' | 'unsupported'} PushState
 */

const HOUR = 3600 * 1000;
/** The mute dialog's choices: ms from now, or null for "until I unmute". */
const DURATIONS = /** @type {const} */ ([
  ['mute-1h', 'For 1 hour', HOUR],
  ['mute-8h', 'For 8 hours', 8 * HOUR],
  ['mute-1w', 'For 1 week', 7 * 24 * HOUR],
  ['mute-forever', 'Until I unmute', null],
]);

const svg = (/** @type {string} */ body, size = 16) =>
  `<svg viewBox="0 0 16 16" width="${size}" height="${size}" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;
const BELL_PATH = '<path d="M4 11.5V7a4 4 0 0 1 8 0v4.5l1.2 1.2H2.8z"/><path d="M6.6 14.2a1.5 1.5 0 0 0 2.8 0"/>';
const BELL = svg(BELL_PATH, 20);
const BELL_OFF = svg(BELL_PATH + '<path d="M1.5 1.5l13 13"/>', 20);
const BELL_OFF_SMALL = svg(BELL_PATH + '<path d="M1.5 1.5l13 13"/>', 13);

/**
 * The element with this id, of this type (the screens come from index.html's templates, so a
 * missing one is a bug).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
function byId(id, type) {
  const el = document.getElementById(id);
  const want = type || HTMLElement;
  if (!(el instanceof want)) throw new Error(`#${id} is missing or not a ${want.name}`);
  return /** @type {T} */ (el);
}

/** @param {unknown} ex */
function reasonOf(ex) {
  const t = (ex instanceof Error ? ex.message : String(ex)).trim();
  return t ? t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : 'Something went wrong.';
}

/** "3:00 PM" today, else "Tue 3:00 PM" within a week, else "Mar 2, 3:00 PM". @param {number} ms */
function whenText(ms) {
  const d = new Date(ms);
  const now = new Date();
  /** @type {Intl.DateTimeFormatOptions} */
  const time = { hour: 'numeric', minute: '2-digit' };
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], time);
  if (ms - Date.now() < 6 * 24 * HOUR) return d.toLocaleString([], { weekday: 'short', ...time });
  return d.toLocaleString([], { month: 'short', day: 'numeric', ...time });
}

/** "Muted until 3:00 PM" or "Muted until you unmute". @param {Conversation} c */
function mutedText(c) {
  return c.mutedUntil != null ? `Muted until ${whenText(c.mutedUntil)}` : 'Muted until you unmute';
}

// ---------------------------------------------------------------------------------------------
// Push on this device
// ---------------------------------------------------------------------------------------------

/** Whether this browser can receive Web Push here (a secure context with the three APIs). */
function browserSupportsPush() {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** @type {WeakMap<ConfabClient, Promise<PushConfig>>} the server's push config, asked once per sign-in */
const configs = new WeakMap();

/** @param {ConfabClient} client */
function configOf(client) {
  let config = configs.get(client);
  if (!config) {
    config = client.pushConfig();
    configs.set(client, config);
    config.catch(() => configs.delete(client));
  }
  return config;
}

/** This browser's push subscription for the app (null when none, or no service worker yet). */
async function browserSubscription() {
  const registration = await navigator.serviceWorker.getRegistration('/');
  return registration ? registration.pushManager.getSubscription() : null;
}

/** This device's Web Push subscriptions on the server. @param {ConfabClient} client */
async function serverSubscriptions(client) {
  const all = await client.pushSubscriptions();
  return all.filter((s) => s.kind === 'webpush' && s.deviceId === client.deviceId);
}

/** Where the endpoint last registered with the server is kept (per user: devices are shared). @param {ConfabClient} client */
const endpointKey = (client) => `confab.push.${client.userId}`;

/**
 * Whether push is on for this device: subscribed in this browser and registered on the server.
 * @param {ConfabClient} client
 * @returns {Promise<PushState>}
 */
async function pushState(client) {
  if (!browserSupportsPush()) return 'unsupported';
  const config = await configOf(client);
  if (!config.webPushPublicKey) return 'unsupported';
  if (Notification.permission === 'denied') return 'blocked';
  if (Notification.permission !== 'granted') return 'off';
  const [here, server] = await Promise.all([browserSubscription(), serverSubscriptions(client)]);
  return here && server.length ? 'on' : 'off';
}

/**
 * Same bytes? (a subscription made with another server key must be replaced)
 * @param {ArrayBuffer | null} a
 * @param {Uint8Array} b
 */
function sameKey(a, b) {
  if (!a || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

/**
 * Turns push on for this device. Call from the user's click: the browser asks for permission.
 * @param {ConfabClient} client
 * @returns {Promise<PushState>}
 */
async function enablePush(client) {
  // First, while the click still counts as the user's: browsers ask only in answer to one.
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return permission === 'denied' ? 'blocked' : 'off';
  const config = await configOf(client);
  if (!config.webPushPublicKey) return 'unsupported';
  const key = applicationServerKey(config.webPushPublicKey);
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ||= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await client.subscribeWebPush(subscription);
  localStorage.setItem(endpointKey(client), subscription.endpoint);
  return 'on';
}

/**
 * Turns push off for this device: on the server first (so nothing more is sent), then here.
 * @param {ConfabClient} client
 * @returns {Promise<PushState>}
 */
async function disablePush(client) {
  for (const s of await serverSubscriptions(client)) await client.unsubscribePush(s.subscriptionId);
  localStorage.removeItem(endpointKey(client));
  const here = await browserSubscription();
  if (here) await here.unsubscribe();
  return pushState(client);
}

/** What the settings say for each state. @type {Record<PushState, string>} */
const STATE_TEXT = {
  on: 'On: this device shows a notification for new messages while Confab is not open.',
  off: 'Off: no notifications on this device.',
  blocked: 'Blocked: notifications are blocked for this site. Allow them in the browser’s site settings, then turn this on.',
  unsupported: 'Not available: this browser cannot receive push notifications here.',
};

/** Answers to an older look at the state (the dialog was opened again) are dropped. */
let generation = 0;

/**
 * Fills in the settings dialog's "Notifications" section and wires its toggle (each time the
 * dialog opens).
 * @param {PushHooks} hooks
 */
export function showPushSettings(hooks) {
  const client = hooks.client();
  if (!client) return;
  const toggle = byId('push-toggle', HTMLInputElement);
  const status = byId('push-status');
  const error = byId('push-error');
  const mine = ++generation;
  error.hidden = true;

  /** @param {PushState | 'checking' | 'working'} state @param {string} [text] */
  const show = (state, text) => {
    if (mine !== generation) return;
    status.dataset.state = state;
    status.textContent = text || (state === 'checking' || state === 'working' ? '' : STATE_TEXT[state]);
    toggle.checked = state === 'on' || (state === 'working' && toggle.checked);
    toggle.disabled = state !== 'on' && state !== 'off';
    toggle.dataset.state = state;
  };
  /** @param {unknown} ex @param {string} what */
  const failed = async (ex, what) => {
    if (mine !== generation) return;
    error.textContent = `${what}: ${reasonOf(ex)}`;
    error.hidden = false;
    show(await pushState(client).catch(() => 'off'));
  };
  const check = async () => {
    show('checking', 'Checking…');
    if (!browserSupportsPush()) return show('unsupported');
    try {
      const config = await configOf(client);
      if (!config.webPushPublicKey) return show('unsupported', 'Not available: this server does not send push notifications.');
      show(await pushState(client));
    } catch (ex) {
      await failed(ex, 'Could not check notifications');
    }
  };

  toggle.onchange = async () => {
    const on = toggle.checked;
    error.hidden = true;
    show('working', on ? 'Turning on…' : 'Turning off…');
    try {
      show(on ? await enablePush(client) : await disablePush(client));
    } catch (ex) {
      await failed(ex, on ? 'Could not turn notifications on' : 'Could not turn notifications off');
    }
  };
  check();
}

/**
 * This user is signing out of this browser: drop this device's push subscription, on the server
 * while the session still works (`client.signedOut` false), and in the browser (a push service
 * then tells the server the subscription is gone, should the server still have it). Best effort,
 * at most 3 s.
 * @param {ConfabClient} client
 */
export async function pushSignedOut(client) {
  pendingOpen = null;
  if (!browserSupportsPush()) return;
  localStorage.removeItem(endpointKey(client));
  const drop = async () => {
    const here = await browserSubscription();
    if (!here) return;
    if (!client.signedOut) {
      for (const s of await serverSubscriptions(client)) await client.unsubscribePush(s.subscriptionId);
    }
    await here.unsubscribe();
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  await Promise.race([drop().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
  clearTimeout(timer);
}

/**
 * Registers this browser's subscription again when it is not the one last registered by this user
 * here (the push service replaced it while no window was open); only while push is on for this
 * device on the server.
 * @param {ConfabClient} client
 */
async function reregister(client) {
  if (!browserSupportsPush() || Notification.permission !== 'granted') return;
  const here = await browserSubscription();
  const known = localStorage.getItem(endpointKey(client));
  if (!here || !known || here.endpoint === known) return;
  if (!(await serverSubscriptions(client)).length) return;
  await client.subscribeWebPush(here);
  localStorage.setItem(endpointKey(client), here.endpoint);
}

// ---------------------------------------------------------------------------------------------
// Muting
// ---------------------------------------------------------------------------------------------

/** The soonest end of a timed mute shown, and the timer that renders the views again then. */
let expiry = { at: Infinity, timer: /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined) };

/**
 * Renders the views again when this timed mute ends (the soonest one shown wins).
 * @param {PushHooks} hooks
 * @param {number} at
 */
function rerenderAt(hooks, at) {
  const now = Date.now();
  if (at <= now || at >= expiry.at) return;
  clearTimeout(expiry.timer);
  expiry = {
    at,
    timer: setTimeout(
      () => {
        expiry = { at: Infinity, timer: undefined };
        hooks.rerender();
      },
      Math.min(at - now + 50, 2 ** 31 - 1),
    ),
  };
}

/**
 * The conversation list's item: a crossed-out bell after the name while muted (its accessible
 * name says so, so the item's button reads "…, muted").
 * @param {PushHooks} hooks
 * @param {HTMLElement} li
 * @param {Conversation} c
 */
export function decorateConversation(hooks, li, c) {
  const muted = isMuted(c);
  let icon = li.querySelector('.conv-muted');
  if (muted && !(icon instanceof HTMLElement)) {
    const el = document.createElement('span');
    el.className = 'conv-muted';
    el.dataset.testid = 'conv-muted';
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', 'muted');
    el.innerHTML = BELL_OFF_SMALL; // constant icon markup
    li.querySelector('.conv-name')?.after(el);
    icon = el;
  }
  if (icon instanceof HTMLElement) {
    icon.hidden = !muted;
    icon.title = muted ? mutedText(c) : '';
  }
  const btn = li.querySelector('.conv-item');
  if (btn instanceof HTMLElement) btn.dataset.muted = String(muted);
  if (muted && c.mutedUntil != null) rerenderAt(hooks, c.mutedUntil);
}

/** The dialog's open conversation, while it is shown. @type {string | null} */
let muteShown = null;

/**
 * The header's bell for the open conversation (called whenever the header is rendered), and the
 * mute dialog when it shows this conversation. The conversation's notifications are closed: it
 * is being read.
 * @param {PushHooks} hooks
 */
export function renderMute(hooks) {
  const client = hooks.client();
  const id = hooks.current();
  const c = id && client ? client.conversations.get(id) : undefined;
  const btn = document.getElementById('mute-btn');
  if (!c || !id || !(btn instanceof HTMLButtonElement)) return;
  const muted = isMuted(c);
  if (btn.dataset.muted !== String(muted)) btn.innerHTML = muted ? BELL_OFF : BELL; // constant icon markup
  btn.dataset.muted = String(muted);
  const label = muted ? `${mutedText(c)}. Change or unmute` : 'Mute notifications';
  btn.title = label;
  btn.setAttribute('aria-label', label);
  if (muted && c.mutedUntil != null) rerenderAt(hooks, c.mutedUntil);
  if (muteShown === id) renderMuteDialog(c);
  dismissNotifications(id, () => hooks.current() === id);
}

/** @param {Conversation} c */
function renderMuteDialog(c) {
  const muted = isMuted(c);
  const state = byId('mute-state');
  state.textContent = muted ? `${mutedText(c)}.` : 'Notifications are on for this conversation.';
  state.dataset.muted = String(muted);
  byId('mute-unmute').hidden = !muted;
  byId('mute-choices-label').textContent = muted ? 'Mute for another while:' : 'Mute notifications:';
}

/**
 * Opens the mute dialog for the open conversation.
 * @param {PushHooks} hooks
 */
function openMuteDialog(hooks) {
  const client = hooks.client();
  const id = hooks.current();
  const c = id && client ? client.conversations.get(id) : undefined;
  if (!client || !id || !c) return;
  const dialog = byId('mute-dialog', HTMLDialogElement);
  const error = byId('mute-error');
  error.hidden = true;
  byId('mute-title').textContent = `Notifications: ${client.conversationName(id)}`;
  muteShown = id;
  renderMuteDialog(c);
  const buttons = [...dialog.querySelectorAll('button[data-mute], #mute-unmute')].filter((b) => b instanceof HTMLButtonElement);
  /** @param {() => Promise<unknown>} change */
  const apply = async (change) => {
    buttons.forEach((b) => (b.disabled = true));
    error.hidden = true;
    try {
      await change(); // the conversation event renders the header, the list and this dialog
      dialog.close();
    } catch (ex) {
      error.textContent = reasonOf(ex instanceof ConfabError && ex.code === 'NETWORK' ? 'You are offline: try again once connected.' : ex);
      error.hidden = false;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  for (const b of buttons) {
    b.onclick = () => {
      if (b.id === 'mute-unmute') return apply(() => client.unmute(id));
      const ms = Number(b.dataset.mute);
      return apply(() => client.mute(id, ms ? Date.now() + ms : undefined));
    };
  }
  dialog.showModal();
  (isMuted(c) ? byId('mute-unmute') : buttons[0]).focus();
}

/**
 * Closes this conversation's notifications, when the page is visible, and sets the app badge from
 * the ones left. The notifications are read asynchronously: by then the conversation may have been
 * closed and a new push shown for it, which must stay, so `stillOpen` is asked again first.
 * @param {string} conversationId
 * @param {() => boolean} stillOpen
 */
function dismissNotifications(conversationId, stillOpen) {
  const looking = () => document.visibilityState === 'visible' && stillOpen();
  if (!looking() || !browserSupportsPush() || Notification.permission !== 'granted') return;
  navigator.serviceWorker
    .getRegistration('/')
    .then(async (registration) => {
      if (!registration) return;
      const shown = await registration.getNotifications({ tag: conversationId });
      if (!shown.length || !looking()) return;
      for (const n of shown) n.close();
      if (!('setAppBadge' in navigator)) return;
      const left = await registration.getNotifications();
      const total = left.reduce((sum, n) => sum + (Number(n.data?.count) || 1), 0);
      await (total ? navigator.setAppBadge(total) : navigator.clearAppBadge());
    })
    .catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

/** A conversation to open once signed in and known here (a clicked notification's). @type {string | null} */
let pendingOpen = null;

/**
 * Opens the pending conversation if it is known now.
 * @param {PushHooks} hooks
 */
function openPending(hooks) {
  const client = hooks.client();
  if (!pendingOpen || !client || !client.conversations.has(pendingOpen)) return;
  const id = pendingOpen;
  pendingOpen = null;
  hooks.open(id);
}

/**
 * Page-wide, once: the service worker's messages (a clicked notification, a replaced
 * subscription).
 * @param {PushHooks} hooks
 */
export function installPush(hooks) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    const data = event.data;
    if (!data || typeof data !== 'object') return;
    if (data.type === 'confab.open' && typeof data.conversationId === 'string' && data.conversationId) {
      pendingOpen = data.conversationId;
      openPending(hooks);
    } else if (data.type === 'confab.pushsubscriptionchange' && data.subscription) {
      const client = hooks.client();
      if (!client || !localStorage.getItem(endpointKey(client))) return;
      client
        .subscribeWebPush(data.subscription)
        .then(() => localStorage.setItem(endpointKey(client), data.subscription.endpoint))
        .catch(() => {});
    }
  });
  navigator.serviceWorker.startMessages();
}

/**
 * The chat screen's controls (a fresh copy of the template each sign-in): the header's bell and
 * the mute dialog.
 * @param {PushHooks} hooks
 */
export function bindPush(hooks) {
  byId('mute-btn').innerHTML = BELL; // constant icon markup
  byId('mute-btn').dataset.muted = 'false';
  byId('mute-btn').addEventListener('click', () => openMuteDialog(hooks));
  const choices = byId('mute-choices');
  choices.replaceChildren(
    ...DURATIONS.map(([testid, text, ms]) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.testid = testid;
      b.dataset.mute = ms === null ? '' : String(ms);
      b.textContent = text;
      return b;
    }),
  );
  byId('mute-cancel').addEventListener('click', () => byId('mute-dialog', HTMLDialogElement).close());
  byId('mute-dialog').addEventListener('close', () => {
    muteShown = null;
  });
}

/**
 * Signed in (the client started): open the conversation a clicked notification asked for
 * (`?conversation=ID`, taken out of the address), now or once it is known, and register a
 * subscription the push service replaced while no window was open.
 * @param {PushHooks} hooks
 * @param {ConfabClient} client
 */
export function startPush(hooks, client) {
  const params = new URLSearchParams(location.search);
  const asked = params.get('conversation');
  if (asked) {
    params.delete('conversation');
    const query = params.toString();
    history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
    pendingOpen = asked;
  }
  client.addEventListener('conversations', () => openPending(hooks));
  openPending(hooks);
  reregister(client).catch(() => {});
}
