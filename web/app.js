// Confab web client: plain DOM on top of the SDK in confab.js.
import { ConfabClient, ConfabError, isSystemMessage, messageKey } from './sdk/confab.js';
import { bindManage, blocksChanged, renderManage, sendStatus, showBlockedUsers } from './app-manage.js';
import { isBanned, openAdminPanel, openReportDialog, showSuspended } from './app-moderation.js';
// polish hooks: timeline separators, unread total, announcements, links, quick jump
import { announceNew, authRuleText, noteOpened, resetPolish, scrollToFirstUnread, timelineAfter, timelineBefore, updateUnreadTotal } from './app-polish.js';
import { installJump } from './app-jump.js';
import { bindSearch } from './app-search.js';
import { setLinkifiedText } from './linkify.js';
import { MessageActions } from './app-lifecycle.js';
import { AttachmentsView, attachmentLabel, captionOf } from './app-attachments.js';
import { bindPush, decorateConversation, installPush, pushSignedOut, renderMute, showPushSettings, startPush } from './app-push.js';

/** @typedef {import('./sdk/sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk/sdk-client.js').ConnectionState} ConnectionState */
/** @typedef {import('./sdk/sdk-client.js').ClientEvents} ClientEvents */
/** @typedef {import('./sdk/types/proto.js').Message} Message */
/** @typedef {import('./sdk/types/proto.js').User} User */

/**
 * The element with this id, of this type. The screens come from the templates in index.html, so a
 * missing element is a bug: it throws rather than returning null.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
function $(id, type) {
  const el = document.getElementById(id);
  const want = type || HTMLElement;
  if (!(el instanceof want)) throw new Error(`#${id} is missing or not a ${want.name}`);
  return /** @type {T} */ (el);
}

/**
 * The element under `root` matching `selector` (built by this file, so it exists).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {ParentNode} root
 * @param {string} selector
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
function find(root, selector, type) {
  const el = root.querySelector(selector);
  const want = type || HTMLElement;
  if (!(el instanceof want)) throw new Error(`${selector} is missing or not a ${want.name}`);
  return /** @type {T} */ (el);
}

const app = $('app');
/** @type {ConfabClient | null} the signed-in user's client; null on the sign-in screen */
let signedInClient = null;
/** @type {string | null} the open conversation's id */
let current = null;
/** @type {Map<string, HTMLLIElement>} messageKey(senderId, messageId) -> its list item (members may share a messageId) */
const rendered = new Map();
let loadingOlder = false;
let atBottom = true;
/** Blocking and group management (app-manage.js) see the client and the open conversation. */
const manage = { client: () => signedIn(), current: () => current };
/** Push notifications and muting (app-push.js); they may act while signed out (a clicked notification). */
const push = {
  client: () => signedInClient,
  current: () => current,
  open: (/** @type {string} */ id) => {
    openConversation(id);
  },
  rerender: () => {
    renderConversations();
    if (current) renderHeader();
  },
};
/** Reply, edit, delete and reactions on the open conversation's messages (app-lifecycle.js). */
const actions = new MessageActions({
  client: () => signedIn(),
  current: () => current,
  textOf: (m) => textOf(m),
  setComposer: (text) => {
    const input = $('composer-input', HTMLTextAreaElement);
    input.value = text;
    autosize(input);
    input.focus();
  },
  loadOlder: async () => {
    const id = current;
    if (!id) return 0;
    const added = await signedIn().loadOlder(id);
    if (current === id) renderMessages();
    return added;
  },
  showError: (e) => showActionError(e),
});
/** Sending files and showing attachments (app-attachments.js). */
const attachments = new AttachmentsView({
  client: () => signedIn(),
  current: () => current,
  // The composer's text goes with the file as its caption (unless it is an edit under way).
  takeDraft: () => {
    const input = $('composer-input', HTMLTextAreaElement);
    const expiresInSeconds = Number($('composer-timer', HTMLSelectElement).value) || undefined;
    if (actions.mode?.kind === 'edit') return { text: '', expiresInSeconds };
    const text = input.value.trim();
    const replyTo = actions.mode?.kind === 'reply' ? actions.mode.messageId : undefined;
    if (replyTo) actions.cancel();
    input.value = '';
    autosize(input);
    if (current) signedIn().stopTyping(current);
    return { text, replyTo, expiresInSeconds };
  },
  restoreDraft: (conversationId, text) => {
    const input = document.getElementById('composer-input');
    if (current !== conversationId || !(input instanceof HTMLTextAreaElement) || input.value.trim() || input.disabled) return;
    input.value = text;
    autosize(input);
  },
  sent: () => {
    atBottom = true;
    scrollToBottom();
  },
});

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** @param {unknown} ex  what a failed SDK call rejected with */
function errorText(ex) {
  return ex instanceof Error ? ex.message : String(ex);
}

/** @param {string | null | undefined} name */
function initials(name) {
  return (name || '?').trim().split(/\s+/).map((w) => w[0]).slice(0, 2).join('') || '?';
}

/** @param {number | null | undefined} ms */
function timeOf(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** @param {number | null | undefined} ms */
function ago(ms) {
  if (!ms) return 'offline';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return 'last seen just now';
  if (s < 3600) return `last seen ${Math.round(s / 60)} min ago`;
  const d = new Date(ms);
  if (s < 86400) return `last seen today at ${d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  return `last seen ${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}`;
}

/** @param {LocalMessage | Message | null | undefined} message */
function textOf(message) {
  const c = message?.content;
  if (!c) return '';
  if (c.type === 'text') return c.text;
  if (c.type === 'deleted') return message?.expiresAt ? 'This message disappeared' : 'This message was deleted';
  return attachmentLabel(c) || c.text || `[${c.type}]`;
}

const svg = (/** @type {string} */ body, size = 16) =>
  `<svg viewBox="0 0 16 16" width="${size}" height="${size}" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;
const CHECK = '<path d="M1.5 8.5l3 3L11 4.5"/>';
/** @type {Record<string, [string, string]>} status -> [glyph, label] */
const TICKS = {
  pending: [svg('<circle cx="8" cy="8" r="6"/><path d="M8 4.5V8l2.5 1.5"/>', 13), 'Sending'],
  sent: [svg(CHECK, 14), 'Sent'],
  delivered: [svg(CHECK + '<path d="M7.5 11.5L14.5 4.5"/>', 14), 'Delivered'],
  read: [svg(CHECK + '<path d="M7.5 11.5L14.5 4.5"/>', 14), 'Read'],
  failed: [svg('<circle cx="8" cy="8" r="6.5"/><path d="M8 4.5v4.5M8 11.5v.01"/>', 14), 'Not sent'],
};
const ICONS = {
  plus: svg('<path d="M8 2.5v11M2.5 8h11"/>', 20),
  group: svg('<circle cx="5.5" cy="5.5" r="2.5"/><circle cx="11.5" cy="6.5" r="2"/><path d="M1 14c0-2.5 2-4.5 4.5-4.5S10 11.5 10 14M10.5 10.5c2.3-.5 4.5 1 4.5 3.5"/>', 20),
  logout: svg('<path d="M6 2.5H3v11h3M10 5l3 3-3 3M13 8H6"/>', 20),
  back: svg('<path d="M10 3L5 8l5 5"/>', 20),
  settings: svg('<circle cx="8" cy="5.5" r="2.8"/><path d="M2.5 14.5c0-3 2.5-5 5.5-5s5.5 2 5.5 5"/>', 20),
  admin: svg('<path d="M8 1.5l5.5 2v4c0 3.5-2.5 6-5.5 7-3-1-5.5-3.5-5.5-7v-4z"/>', 20),
  attach: svg('<path d="M13.5 7.5l-5.6 5.6a3.4 3.4 0 0 1-4.8-4.8l5.9-5.9a2.3 2.3 0 0 1 3.2 3.2L6.4 11.4a1.1 1.1 0 0 1-1.6-1.6l5.2-5.2"/>', 20),
  addPerson: svg('<circle cx="6" cy="5" r="2.5"/><path d="M1.5 14c0-2.5 2-4.5 4.5-4.5s4.5 2 4.5 4.5M13 5v5M10.5 7.5h5"/>', 20),
};

// ---------------------------------------------------------------------------------------------
// Sign in / register
// ---------------------------------------------------------------------------------------------

/**
 * What a failed sign-in or registration tells the user. The server names the one rule a refused
 * password or name broke (`INVALID_REQUEST`), so that is shown as it is, capitalised.
 * @param {unknown} ex
 * @param {string} code
 */
function authErrorText(ex, code) {
  if (code === 'UNAUTHORIZED') return 'Wrong username or password.';
  if (code === 'USERNAME_TAKEN') return 'That username is taken.';
  if (code === 'RATE_LIMITED') {
    const secs = ex instanceof ConfabError && ex.retryAfter ? ex.retryAfter : 1;
    return `Too many attempts. Try again in ${secs} s.`;
  }
  const text = errorText(ex);
  if (code === 'INVALID_REQUEST' || code === 'FORBIDDEN') {
    return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
  }
  return text;
}

/** @param {string} [notice]  shown above the form (e.g. why one was signed out) */
function showAuth(notice) {
  resetPolish(); // polish hook
  app.replaceChildren($('tpl-auth', HTMLTemplateElement).content.cloneNode(true));
  if (notice) {
    $('auth-notice').textContent = notice;
    $('auth-notice').hidden = false;
  }
  let registering = false;
  /** @type {import('./sdk/types/proto.js').RegistrationMode} */
  let mode = 'open';
  const form = $('auth-form', HTMLFormElement);
  const setMode = (/** @type {boolean} */ reg) => {
    registering = reg;
    $('auth-heading').textContent = reg ? 'Create an account' : 'Sign in';
    $('auth-submit').textContent = reg ? 'Create account' : 'Sign in';
    $('auth-toggle').textContent = reg ? 'Sign in instead' : 'Create an account';
    $('auth-switch-text').textContent = reg ? 'Have an account?' : 'New here?';
    $('auth-displayname-label').hidden = !reg;
    $('auth-invite-label').hidden = !(reg && mode === 'invite');
    $('auth-invite', HTMLInputElement).required = reg && mode === 'invite';
    $('auth-password', HTMLInputElement).autocomplete = reg ? 'new-password' : 'current-password';
    $('auth-password-hint').hidden = !reg;
    $('auth-error').hidden = true;
  };
  $('auth-toggle').addEventListener('click', () => setMode(!registering));
  // What the server allows decides the sign-up form: an invite code field, or no sign-up at all.
  ConfabClient.registration(location.origin)
    .then((info) => {
      mode = info.mode;
      setMode(mode === 'closed' ? false : registering);
      if (mode === 'closed') {
        $('auth-switch-text').textContent = 'This server does not take new sign-ups.';
        $('auth-toggle').hidden = true;
      }
    })
    .catch(() => {});
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('auth-username', HTMLInputElement).value.trim();
    const password = $('auth-password', HTMLInputElement).value;
    const err = $('auth-error');
    err.hidden = true;
    if (!form.checkValidity()) {
      err.textContent = authRuleText(form, registering); // polish hook: the one rule that failed
      err.hidden = false;
      return;
    }
    $('auth-submit', HTMLButtonElement).disabled = true;
    try {
      const session = registering
        ? await ConfabClient.register(location.origin, {
            username,
            password,
            displayName: $('auth-displayname', HTMLInputElement).value.trim() || undefined,
            inviteCode: $('auth-invite', HTMLInputElement).value.trim() || undefined,
          })
        : await ConfabClient.login(location.origin, { username, password });
      ConfabClient.saveSession(session);
      await startChat(session);
    } catch (ex) {
      if (isBanned(ex)) {
        showSuspended(app, ex, () => showAuth());
        return;
      }
      const code = ex instanceof ConfabError ? ex.code : '';
      err.textContent = authErrorText(ex, code);
      err.hidden = false;
      $('auth-submit', HTMLButtonElement).disabled = false;
    }
  });
  $('auth-username').focus();
}

// ---------------------------------------------------------------------------------------------
// Chat
// ---------------------------------------------------------------------------------------------

/** @type {Record<ConnectionState, string>} */
const CONN_TEXT = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline — messages will be sent when you are back online',
  online: 'Online',
  closed: 'Disconnected',
};

/**
 * The signed-in client. Everything below the sign-in screen runs only while signed in.
 * @returns {ConfabClient}
 */
function signedIn() {
  if (!signedInClient) throw new Error('signed out');
  return signedInClient;
}

/**
 * Listens to one of the client's events, with its typed `detail`.
 * @template {keyof ClientEvents} K
 * @param {ConfabClient} client
 * @param {K} type
 * @param {(detail: ClientEvents[K]) => void} fn
 */
function on(client, type, fn) {
  client.addEventListener(type, (e) => fn(/** @type {CustomEvent<ClientEvents[K]>} */ (e).detail));
}

/** @param {import('./sdk/sdk-client.js').Session} session */
async function startChat(session) {
  app.replaceChildren($('tpl-chat', HTMLTemplateElement).content.cloneNode(true));
  const client = new ConfabClient({ session });
  signedInClient = client;
  Object.assign(window, { confab: client }); // handy in the console and for tests
  renderMe(session.displayName || session.username);
  bindChrome();

  on(client, 'connection', (detail) => renderConnection(detail));
  on(client, 'conversations', () => renderConversations());
  on(client, 'conversation', () => {
    renderConversations();
    if (current) renderHeader();
  });
  on(client, 'conversation.removed', (detail) => {
    if (detail.conversationId === current) closeConversation();
  });
  on(client, 'user', (detail) => {
    if (detail.user.userId === client.userId) renderMe(detail.user.displayName || detail.user.username);
    renderConversations();
    if (current) {
      renderHeader();
      renderMessages();
    }
  });
  on(client, 'messages', (detail) => {
    renderConversations();
    if (detail.conversationId === current) {
      renderMessages();
      announceNew(client, current, (id) => client.userName(id), textOf); // polish hook
      markReadIfVisible();
    }
  });
  on(client, 'presence', () => {
    renderConversations();
    if (current) renderHeader();
  });
  on(client, 'typing', (detail) => {
    if (detail.conversationId === current) renderTyping();
    renderConversations();
  });
  on(client, 'blocks', () => {
    blocksChanged(manage);
    if (current) renderHeader();
  });
  on(client, 'message.status', (detail) => sendStatus(manage, detail));
  on(client, 'signedout', (detail) => {
    if (detail.reason === 'banned') {
      signOut().then(() => showSuspended(app, detail.error, () => showAuth()));
      return;
    }
    logout(
      detail.reason === 'revoked'
        ? 'Signed out: this session was revoked.'
        : 'Signed out: this session is no longer valid. Please sign in again.',
    );
  });

  renderConnection({ state: client.state });
  // Administrators get the administration panel.
  client
    .profile()
    .then((profile) => {
      const b = document.getElementById('admin-btn');
      if (b && signedInClient === client) b.hidden = !profile.admin;
    })
    .catch(() => {});
  await client.start();
  client.blocks.refresh().catch(() => {});
  renderConversations();
  const fromHash = decodeURIComponent(location.hash.slice(1));
  if (fromHash && client.conversations.has(fromHash)) openConversation(fromHash);
  startPush(push, client); // push hook: a clicked notification's ?conversation=ID; a replaced subscription
}

/** The signed-in user's name in the sidebar header. @param {string} name */
function renderMe(name) {
  const el = document.getElementById('me-name');
  if (!el) return;
  el.textContent = name;
  $('me-avatar').textContent = initials(name);
}

/** @param {{ state: ConnectionState }} connection */
function renderConnection({ state }) {
  // Also called while signing out, when the chat screen may already be gone.
  const el = document.getElementById('conn-status');
  if (!el) return;
  el.dataset.state = state;
  el.textContent = CONN_TEXT[state] || state;
  if (state === 'reconnecting' || state === 'closed') {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = 'Retry now';
    b.dataset.testid = 'reconnect-now';
    b.addEventListener('click', () => signedInClient?.reconnectNow());
    el.append(' ', b);
  }
}

/** Wires the chat screen's controls (a fresh copy of the template each time one signs in). */
function bindChrome() {
  // Constant icon markup, never user text.
  $('new-chat-btn').innerHTML = ICONS.plus;
  $('new-group-btn').innerHTML = ICONS.group;
  $('logout-btn').innerHTML = ICONS.logout;
  $('settings-btn').innerHTML = ICONS.settings;
  $('settings-btn').addEventListener('click', () => openSettings());
  $('admin-btn').innerHTML = ICONS.admin;
  $('admin-btn').addEventListener('click', () => openAdminPanel(signedIn()));
  $('back-btn').innerHTML = ICONS.back;
  $('add-members-btn').innerHTML = ICONS.addPerson;
  $('attach-btn').innerHTML = ICONS.attach;
  $('new-chat-btn').addEventListener('click', () => openPeopleDialog('direct'));
  $('new-group-btn').addEventListener('click', () => openPeopleDialog('group'));
  $('add-members-btn').addEventListener('click', () => openPeopleDialog('add'));
  $('logout-btn').addEventListener('click', () => logout());
  $('back-btn').addEventListener('click', () => closeConversation());
  bindManage(manage);
  bindPush(push); // the header's bell and the mute dialog
  attachments.bind(); // the attach button, dropped and pasted files
  // Message search; a result opens its conversation at the message (the reply quote's jump).
  bindSearch({
    client: () => signedIn(),
    current: () => current,
    show: async (id, messageId, sequence) => {
      await openConversation(id);
      await actions.jumpTo(id, messageId, sequence);
    },
  });

  const input = $('composer-input', HTMLTextAreaElement);
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendFromComposer();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendFromComposer();
    }
  });
  input.addEventListener('input', () => {
    autosize(input);
    if (!current) return;
    if (input.value.trim()) signedIn().typingActivity(current);
    else signedIn().stopTyping(current);
  });

  const scroller = $('message-scroll');
  scroller.addEventListener('scroll', () => {
    atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    if (scroller.scrollTop < 80) loadOlder();
    if (atBottom) markReadIfVisible();
  });
  $('message-list').addEventListener('click', (e) => {
    if (e.target instanceof Element && actions.onClick(e.target)) return;
    const btn = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
    const li = btn?.closest('li');
    // Report acts on someone else's message, named by its messageId in the open conversation.
    if (btn instanceof HTMLButtonElement && btn.dataset.action === 'report' && li && current) {
      openReportDialog(signedIn(), current, li.dataset.messageId || '', find(li, '.text').textContent || '');
      return;
    }
    // Retry and Delete act on one's own failed messages, which their messageId names.
    const id = li?.dataset.own === 'true' ? li.dataset.messageId : undefined;
    if (!(btn instanceof HTMLButtonElement) || !id) return;
    if (btn.dataset.action === 'retry') signedIn().retry(id);
    if (btn.dataset.action === 'discard') signedIn().discard(id);
  });
}

// Page-wide listeners, registered once: they act only while signed in.
document.addEventListener('visibilitychange', () => {
  if (!signedInClient) return;
  signedInClient.setAway(document.visibilityState === 'hidden');
  markReadIfVisible();
  updateUnreadTotal(signedInClient, current); // polish hook
});
window.addEventListener('hashchange', () => {
  if (!signedInClient) return;
  const id = decodeURIComponent(location.hash.slice(1));
  if (id && id !== current && signedInClient.conversations.has(id)) openConversation(id);
  if (!id && current) closeConversation();
});
installJump({ client: () => signedInClient, open: (id) => openConversation(id) }); // polish hook: Ctrl+K
installPush(push); // the service worker's messages: a clicked notification opens its conversation
window.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || !current || document.querySelector('dialog[open]')) return;
  if (actions.mode) actions.cancel();
  else closeConversation();
});

/**
 * A message action the server refused (or that could not reach it), shown above the composer.
 * @param {unknown} e
 */
function showActionError(e) {
  const composer = document.getElementById('composer');
  if (!composer) return;
  let el = document.getElementById('action-error');
  if (!el) {
    el = document.createElement('p');
    el.id = 'action-error';
    el.className = 'error action-error';
    el.dataset.testid = 'action-error';
    el.setAttribute('role', 'alert');
    composer.before(el);
  }
  el.textContent = errorText(e);
  const shown = el;
  setTimeout(() => shown.remove(), 6000);
}

/** @param {HTMLTextAreaElement} ta */
function autosize(ta) {
  ta.style.height = 'auto';
  ta.style.height = Math.min(ta.scrollHeight + 2, 128) + 'px';
}

function sendFromComposer() {
  const input = $('composer-input', HTMLTextAreaElement);
  const text = input.value.trim();
  if (!text || !current) return;
  const timer = Number($('composer-timer', HTMLSelectElement).value) || undefined;
  if (!actions.submit(text)) signedIn().sendText(current, text, { expiresInSeconds: timer });
  input.value = '';
  autosize(input);
  atBottom = true;
  scrollToBottom();
}

/** Signs out here (the server is told, best effort) and forgets this user's local data. */
async function signOut() {
  const client = signedInClient;
  signedInClient = null;
  attachments.reset();
  document.querySelectorAll('dialog[open]').forEach((d) => d instanceof HTMLDialogElement && d.close());
  if (client) await pushSignedOut(client); // push hook: no notifications of this user here any more
  if (client) await client.logout();
  current = null;
  history.replaceState(null, '', location.pathname);
}

/**
 * Signs out and shows the sign-in screen.
 * @param {string} [notice]  why, shown on the sign-in screen
 */
async function logout(notice) {
  await signOut();
  showAuth(notice);
}

// ---- profile and settings ----

/** The settings dialog: display name, password, sign out (here or everywhere). */
function openSettings() {
  const client = signedIn();
  const dialog = $('settings-dialog', HTMLDialogElement);
  const me = client.users.get(client.userId);
  const nameInput = $('settings-displayname', HTMLInputElement);
  nameInput.value = me?.displayName || client.session.displayName || '';
  $('password-username', HTMLInputElement).value = client.session.username || '';
  $('settings-old-password', HTMLInputElement).value = '';
  $('settings-new-password', HTMLInputElement).value = '';
  $('profile-status').textContent = '';
  $('password-status').textContent = '';
  $('password-error').hidden = true;
  $('sessions-error').hidden = true;

  const showLastSeen = $('settings-show-last-seen', HTMLInputElement);
  showLastSeen.disabled = true;
  client
    .profile()
    .then((profile) => {
      showLastSeen.checked = profile.showLastSeen;
      showLastSeen.disabled = false;
    })
    .catch(() => {
      $('profile-status').textContent = 'Could not load your settings.';
    });
  showLastSeen.onchange = async () => {
    const wanted = showLastSeen.checked;
    showLastSeen.disabled = true;
    $('profile-status').textContent = 'Saving…';
    try {
      const profile = await client.updateProfile({ showLastSeen: wanted });
      showLastSeen.checked = profile.showLastSeen;
      $('profile-status').textContent = profile.showLastSeen ? 'Last seen shown.' : 'Last seen hidden.';
    } catch (ex) {
      showLastSeen.checked = !wanted;
      $('profile-status').textContent = authErrorText(ex, ex instanceof ConfabError ? ex.code : '');
    } finally {
      showLastSeen.disabled = false;
    }
  };

  $('profile-form').onsubmit = async (e) => {
    e.preventDefault();
    const save = $('profile-save', HTMLButtonElement);
    save.disabled = true;
    $('profile-status').textContent = 'Saving…';
    try {
      const user = await client.updateProfile({ displayName: nameInput.value.trim() });
      nameInput.value = user.displayName || '';
      $('profile-status').textContent = 'Name saved.';
    } catch (ex) {
      $('profile-status').textContent = authErrorText(ex, ex instanceof ConfabError ? ex.code : '');
    } finally {
      save.disabled = false;
    }
  };

  $('password-form').onsubmit = async (e) => {
    e.preventDefault();
    const oldInput = $('settings-old-password', HTMLInputElement);
    const newInput = $('settings-new-password', HTMLInputElement);
    const err = $('password-error');
    err.hidden = true;
    $('password-status').textContent = '';
    if (!oldInput.value || newInput.value.length < 8) {
      err.textContent = !oldInput.value ? 'Enter your current password.' : 'The new password needs at least 8 characters.';
      err.hidden = false;
      return;
    }
    const save = $('password-save', HTMLButtonElement);
    save.disabled = true;
    try {
      await client.changePassword(oldInput.value, newInput.value);
      oldInput.value = '';
      newInput.value = '';
      $('password-status').textContent = 'Password changed. Your other sessions were signed out.';
    } catch (ex) {
      const code = ex instanceof ConfabError ? ex.code : '';
      err.textContent = code === 'UNAUTHORIZED' ? 'The current password is wrong.' : authErrorText(ex, code);
      err.hidden = false;
    } finally {
      save.disabled = false;
    }
  };

  $('settings-logout').onclick = () => logout();
  $('settings-logout-all').onclick = async () => {
    const b = $('settings-logout-all', HTMLButtonElement);
    b.disabled = true;
    $('sessions-error').hidden = true;
    const client = signedIn();
    try {
      await client.logoutAll();
    } catch (ex) {
      $('sessions-error').textContent = errorText(ex);
      $('sessions-error').hidden = false;
      b.disabled = false;
      return;
    }
    signedInClient = null;
    dialog.close();
    current = null;
    history.replaceState(null, '', location.pathname);
    await pushSignedOut(client); // push hook: the session is gone, so the browser's subscription only
    showAuth('Signed out on every device.');
  };
  $('settings-close').onclick = () => dialog.close();
  showBlockedUsers(manage);
  showPushSettings(push);
  dialog.showModal();
  nameInput.focus();
}

// ---- conversation list ----

/**
 * A new item of the conversation list (filled in by renderConversations).
 * @param {string} id
 */
function conversationItem(id) {
  const li = document.createElement('li');
  li.dataset.conversationId = id;
  li.innerHTML = `<button type="button" class="conv-item" data-testid="conv-item">
    <span class="avatar" aria-hidden="true"><span class="initials"></span><span class="dot" data-testid="conv-presence" hidden></span></span>
    <span class="conv-main">
      <span class="conv-top"><span class="conv-name" data-testid="conv-name"></span><span class="visually-hidden conv-sr"></span><span class="conv-time"></span></span>
      <span class="conv-bottom"><span class="conv-last" data-testid="conv-last"></span><span class="badge" data-testid="conv-unread" aria-hidden="true" hidden></span></span>
    </span></button>`;
  const button = find(li, '.conv-item');
  button.addEventListener('click', () => openConversation(id));
  button.dataset.conversationId = id;
  return li;
}

function renderConversations() {
  // Events can still arrive while signing out, after the chat screen is gone.
  const list = document.getElementById('conversation-list');
  const client = signedInClient;
  if (!list || !client) return;
  const convs = client.conversationList();
  $('conv-empty').hidden = convs.length > 0;
  const items = convs.map((c) => {
    const id = c.conversationId;
    const existing = list.querySelector(`li[data-conversation-id="${CSS.escape(id)}"]`);
    const li = existing instanceof HTMLLIElement ? existing : conversationItem(id);
    const name = client.conversationName(id);
    const btn = find(li, '.conv-item');
    btn.dataset.name = name;
    btn.setAttribute('aria-current', String(id === current));
    find(li, '.initials').textContent = initials(name);
    find(li, '.conv-name').textContent = name;
    const last = client.lastMessage(id);
    const typing = client.typingUsers(id);
    const lastEl = find(li, '.conv-last');
    if (typing.length) lastEl.textContent = c.type === 'group' ? `${client.userName(typing[0])} is typing…` : 'typing…';
    else if (last) lastEl.textContent = (last.senderId === client.userId ? 'You: ' : c.type === 'group' ? client.userName(last.senderId) + ': ' : '') + textOf(last);
    else lastEl.textContent = c.type === 'group' ? `${c.memberCount} members` : 'No messages yet';
    find(li, '.conv-time').textContent = timeOf(last?.timestamp || (last && 'localTime' in last ? last.localTime : null));
    const unread = id === current && document.visibilityState === 'visible' ? 0 : client.unreadCount(id);
    const badge = find(li, '.badge');
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    const dot = find(li, '.dot');
    const peer = client.peerId(id);
    const pres = peer ? client.presenceOf(peer) : undefined;
    dot.hidden = !peer;
    dot.dataset.status = pres?.status || 'offline';
    // Read out with the name: presence and the unread count (the dot and the badge are visual only).
    find(li, '.conv-sr').textContent = `${peer ? ', ' + (pres?.status || 'offline') : ''}${unread ? `, ${unread} unread` : ''}`;
    decorateConversation(push, li, c); // push hook: the muted bell
    return li;
  });
  // Reorder only when needed, so focus is kept.
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.lastElementChild && list.children.length > items.length) list.lastElementChild.remove();
  updateUnreadTotal(client, current); // polish hook
}

// ---- the open conversation ----

/** @param {string} id */
async function openConversation(id) {
  const client = signedIn();
  if (!client.conversations.has(id)) return;
  if (current !== id) {
    actions.cancel();
    current = id;
    rendered.clear();
    $('message-list').replaceChildren();
    $('history-status').textContent = '';
    atBottom = true;
    noteOpened(client, id); // polish hook: where the unread divider goes
    attachments.show(id);
  }
  if (location.hash.slice(1) !== encodeURIComponent(id)) history.replaceState(null, '', '#' + encodeURIComponent(id));
  find(document, '.shell').classList.add('chat-open');
  $('chat-placeholder').hidden = true;
  $('chat-view').hidden = false;
  renderHeader();
  renderMessages();
  renderTyping();
  renderConversations();
  $('composer-input').focus();
  await client.openConversation(id);
  if (current !== id) return;
  renderMessages();
  // polish hook: open at the first unread message when there is one
  if (scrollToFirstUnread($('message-scroll'))) {
    const s = $('message-scroll');
    atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  } else scrollToBottom();
  markReadIfVisible();
  fillViewport();
}

function closeConversation() {
  current = null;
  rendered.clear();
  history.replaceState(null, '', location.pathname);
  document.querySelector('.shell')?.classList.remove('chat-open');
  attachments.show(null);
  if (document.getElementById('chat-view')) {
    $('chat-view').hidden = true;
    $('chat-placeholder').hidden = false;
    $('message-list').replaceChildren();
  }
  renderConversations();
  document.querySelector('.conv-item')?.closest('button')?.focus();
}

function renderHeader() {
  const client = signedIn();
  const c = current ? client.conversations.get(current) : undefined;
  if (!current || !c) return;
  const name = client.conversationName(current);
  $('chat-title').textContent = name;
  $('chat-avatar').textContent = initials(name);
  const status = $('chat-status');
  const peer = client.peerId(current);
  if (peer) {
    const p = client.presenceOf(peer);
    status.dataset.status = p?.status || 'offline';
    status.textContent = p?.status === 'online' ? 'online' : p?.status === 'away' ? 'away' : ago(p?.lastSeen);
  } else {
    const names = c.participants.map((p) => (p.userId === client.userId ? 'You' : client.userName(p.userId)));
    status.dataset.status = '';
    status.textContent = `${c.memberCount} members: ${names.join(', ')}`;
  }
  const me = c.participants.find((p) => p.userId === client.userId);
  $('add-members-btn').hidden = !(c.type === 'group' && (me?.role === 'admin' || c.settings?.allowMemberInvites));
  renderManage(manage);
  renderMute(push); // push hook: the bell
  attachments.renderComposer();
}

function renderTyping() {
  const users = current ? signedIn().typingUsers(current) : [];
  const el = $('typing-indicator');
  el.textContent = users.length
    ? users.length === 1
      ? `${signedIn().userName(users[0])} is typing…`
      : `${users.length} people are typing…`
    : '';
  el.dataset.typing = String(users.length > 0);
}

function renderMessages() {
  if (!current) return;
  const client = signedIn();
  const list = $('message-list');
  const scroller = $('message-scroll');
  const anchor = timelineBefore(list, scroller); // polish hook: separators out, view anchor kept
  const c = client.conversations.get(current);
  const messages = client.messages(current);
  const prevHeight = scroller.scrollHeight;
  const prevTop = scroller.scrollTop;
  const firstBefore = list.firstElementChild;
  const items = messages.map((m) => {
    const key = messageKey(m.senderId, m.messageId);
    let li = rendered.get(key);
    if (!li) {
      li = document.createElement('li');
      li.dataset.testid = 'message';
      li.dataset.senderId = m.senderId;
      li.dataset.messageId = m.messageId;
      li.dataset.key = key;
      li.innerHTML = `<div class="sender"></div><div class="text" data-testid="message-text"></div><div class="meta"><time></time><span class="tick" data-testid="message-tick"></span></div>`;
      rendered.set(key, li);
    }
    const own = m.senderId === client.userId;
    const notice = isSystemMessage(m);
    li.className = 'msg' + (own ? ' own' : '') + (notice ? ' system' : '');
    li.dataset.system = String(notice);
    li.dataset.own = String(own);
    li.dataset.seq = String(m.sequenceNumber ?? '');
    li.dataset.status = own ? m.status || '' : '';
    find(li, '.sender').textContent = !own && !notice && c?.type === 'group' ? client.userName(m.senderId) : '';
    find(li, '.sender').hidden = own || notice || c?.type !== 'group';
    // polish hook: links, built as DOM nodes; an attachment's caption under it
    setLinkifiedText(find(li, '.text'), captionOf(m.content) ?? textOf(m));
    const t = find(li, 'time', HTMLTimeElement);
    const when = m.timestamp || m.localTime || Date.now();
    t.textContent = timeOf(when);
    t.dateTime = new Date(when).toISOString();
    const tick = find(li, '.tick');
    if (own) {
      const [glyph, label] = TICKS[m.status || 'sent'] || TICKS.sent;
      tick.innerHTML = glyph; // constant icon markup
      tick.dataset.status = m.status;
      tick.setAttribute('aria-label', label);
      tick.title = label;
    } else {
      tick.textContent = '';
    }
    const canReport = !own && !notice && m.sequenceNumber != null;
    const report = li.querySelector('.report');
    if (canReport && !report) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'report';
      b.dataset.action = 'report';
      b.dataset.testid = 'message-report';
      b.textContent = 'Report';
      b.setAttribute('aria-label', 'Report this message');
      find(li, '.meta').append(b);
    } else if (!canReport && report) report.remove();
    let retryActions = li.querySelector('.retry-wrap');
    if (own && m.status === 'failed') {
      if (!retryActions) {
        retryActions = document.createElement('div');
        retryActions.className = 'meta retry-wrap';
        retryActions.innerHTML = `<button type="button" class="retry" data-action="retry" data-testid="message-retry">Retry</button><button type="button" class="retry" data-action="discard">Delete</button>`;
        li.append(retryActions);
      }
    } else if (retryActions) retryActions.remove();
    actions.decorate(li, m);
    attachments.decorate(li, m);
    return li;
  });
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.lastElementChild instanceof HTMLLIElement && list.children.length > items.length) {
    const li = list.lastElementChild;
    rendered.delete(messageKey(li.dataset.senderId || '', li.dataset.messageId || ''));
    li.remove();
  }
  const t = client.timeline(current);
  $('history-status').textContent = t.hasOlder ? (loadingOlder ? 'Loading earlier messages…' : '') : messages.length ? 'Beginning of the conversation' : '';
  if (atBottom) scrollToBottom();
  else if (firstBefore && list.firstElementChild !== firstBefore) {
    // Older messages were prepended: keep what the reader was looking at in place.
    scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
  }
  timelineAfter(list, scroller, anchor, atBottom, current); // polish hook: separators back in
}

function scrollToBottom() {
  const s = document.getElementById('message-scroll');
  if (s) s.scrollTop = s.scrollHeight;
}

async function loadOlder() {
  if (loadingOlder || !current) return;
  const id = current;
  const client = signedIn();
  if (!client.timeline(id).hasOlder) return;
  loadingOlder = true;
  $('history-status').textContent = 'Loading earlier messages…';
  try {
    await client.loadOlder(id);
  } catch {
    $('history-status').textContent = 'Could not load earlier messages';
  } finally {
    loadingOlder = false;
  }
  if (current === id) renderMessages();
}

/** Loads older pages until the message view can scroll (so scrolling up can load more). */
async function fillViewport() {
  const s = $('message-scroll');
  for (let i = 0; i < 5 && current && s.scrollHeight <= s.clientHeight && signedIn().timeline(current).hasOlder; i++) {
    await loadOlder();
  }
}

function markReadIfVisible() {
  if (!current || document.visibilityState !== 'visible' || !atBottom) return;
  signedIn().markRead(current);
}

// ---- people dialog: new chat, new group, add members ----

/**
 * The people dialog: start a direct chat, create a group, or add members to the open group.
 * @param {'direct' | 'group' | 'add'} mode
 */
function openPeopleDialog(mode) {
  const client = signedIn();
  const dialog = $('people-dialog', HTMLDialogElement);
  const groupName = $('group-name', HTMLInputElement);
  const searchInput = $('people-search', HTMLInputElement);
  /** @type {Map<string, User>} */
  const selected = new Map();
  $('people-title').textContent = mode === 'direct' ? 'New chat' : mode === 'group' ? 'New group' : 'Add members';
  $('group-name-label').hidden = mode !== 'group';
  groupName.value = '';
  searchInput.value = '';
  $('people-results').replaceChildren();
  $('people-selected').replaceChildren();
  $('people-error').hidden = true;
  const confirm = $('people-confirm', HTMLButtonElement);
  confirm.hidden = mode === 'direct';
  confirm.textContent = mode === 'group' ? 'Create group' : 'Add';
  const open = mode === 'add' && current ? client.conversations.get(current) : undefined;
  const members = new Set(open ? open.participants.map((p) => p.userId) : []);

  const showError = (/** @type {unknown} */ ex) => {
    $('people-error').textContent = errorText(ex);
    $('people-error').hidden = false;
  };
  const renderSelected = () => {
    $('people-selected').replaceChildren(
      ...[...selected.values()].map((u) => {
        const li = document.createElement('li');
        li.textContent = u.displayName || u.username;
        return li;
      }),
    );
    confirm.disabled = selected.size === 0 || (mode === 'group' && !groupName.value.trim());
  };
  let seq = 0;
  const search = async () => {
    const q = searchInput.value.trim().toLowerCase();
    const mine = ++seq;
    if (!q) {
      $('people-results').replaceChildren();
      return;
    }
    let users;
    try {
      users = await client.searchUsers(q);
    } catch (ex) {
      showError(ex);
      return;
    }
    if (mine !== seq) return;
    $('people-results').replaceChildren(
      ...users
        .filter((u) => u.userId !== client.userId && !members.has(u.userId))
        .map((u) => {
          const li = document.createElement('li');
          const b = document.createElement('button');
          b.type = 'button';
          b.dataset.testid = 'people-result';
          b.dataset.username = u.username;
          b.innerHTML = `<span class="avatar"></span><span><strong></strong><br><span class="sub"></span></span>`;
          find(b, '.avatar').textContent = initials(u.displayName || u.username);
          find(b, 'strong').textContent = u.displayName || u.username;
          find(b, '.sub').textContent = '@' + u.username;
          if (mode !== 'direct') b.setAttribute('aria-pressed', String(selected.has(u.userId)));
          b.addEventListener('click', async () => {
            if (mode === 'direct') {
              try {
                const c = await client.createDirect(u.userId);
                dialog.close();
                openConversation(c.conversationId);
              } catch (ex) {
                showError(ex);
              }
              return;
            }
            if (selected.has(u.userId)) selected.delete(u.userId);
            else selected.set(u.userId, u);
            b.setAttribute('aria-pressed', String(selected.has(u.userId)));
            renderSelected();
          });
          li.append(b);
          return li;
        }),
    );
    if (!$('people-results').children.length) {
      const li = document.createElement('li');
      li.className = 'sub';
      li.textContent = 'No one found.';
      $('people-results').append(li);
    }
  };
  searchInput.oninput = search;
  groupName.oninput = renderSelected;
  $('people-cancel').onclick = () => dialog.close();
  confirm.onclick = async () => {
    confirm.disabled = true;
    try {
      if (mode === 'group') {
        const c = await client.createGroup(groupName.value.trim(), [...selected.keys()]);
        dialog.close();
        openConversation(c.conversationId);
      } else if (open) {
        await client.addMembers(open.conversationId, [...selected.keys()]);
        dialog.close();
        renderHeader();
      }
    } catch (ex) {
      showError(ex);
      confirm.disabled = false;
    }
  };
  renderSelected();
  dialog.showModal();
  (mode === 'group' ? groupName : searchInput).focus();
}

// ---------------------------------------------------------------------------------------------

setInterval(() => {
  // Keep "last seen" texts fresh.
  if (signedInClient && current) renderHeader();
}, 30000);

const saved = ConfabClient.loadSession();
if (saved) startChat(saved).catch(() => showAuth());
else showAuth();
