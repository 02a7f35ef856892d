// What the chat screen adds around the messages: date separators ("Today", "Yesterday", a date),
// the "N unread messages" divider and opening a conversation there, the unread total in the tab
// title and favicon, a live region that announces new messages in the open conversation, and the
// sign-in form's message for the one field rule that failed. app.js calls these at marked hooks.

/** @typedef {import('./sdk/sdk-client.js').ConfabClient} ConfabClient */

const TITLE = 'Confab';

// ---- sign in / register ----

/**
 * What the form says when the browser's own checks fail: the rule of the first field that broke
 * one, not every rule at once.
 * @param {HTMLFormElement} form
 * @param {boolean} registering
 */
export function authRuleText(form, registering) {
  const username = form.elements.namedItem('username');
  const password = form.elements.namedItem('password');
  if (username instanceof HTMLInputElement && !username.validity.valid) {
    return username.validity.valueMissing ? 'Enter a username.' : 'Usernames have 3–32 letters, digits, _ . or -.';
  }
  if (password instanceof HTMLInputElement && !password.validity.valid) {
    if (password.validity.valueMissing) return 'Enter a password.';
    return registering ? 'Passwords need at least 8 characters.' : 'Passwords have at least 8 characters.';
  }
  const invite = form.elements.namedItem('inviteCode');
  if (registering && invite instanceof HTMLInputElement && !invite.validity.valid) {
    return 'This server registers by invite only: enter your invite code.';
  }
  return 'Check the form.';
}

// ---- the timeline: date separators and the unread divider ----

/** @type {{ conversationId: string, readUpTo: number, count: number } | null} read state when the open conversation was opened */
let opened = null;

/**
 * Notes where the reader had read up to when a conversation is opened: the divider stays there
 * while it is open, even once the newer messages are marked read.
 * @param {ConfabClient} client
 * @param {string} conversationId
 */
export function noteOpened(client, conversationId) {
  const c = client.conversations.get(conversationId);
  opened = { conversationId, readUpTo: c?.lastReadSequence || 0, count: client.unreadCount(conversationId) };
  announced.set(conversationId, c?.lastSequence || 0);
}

/** @param {number} ms */
function dayLabel(ms) {
  const d = new Date(ms);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString([], opts);
}

/**
 * Before the message list is re-rendered: takes out the separators (renderMessages keeps the list
 * to message items) and remembers which message is at the top of the view, and where.
 * @param {HTMLElement} list
 * @param {HTMLElement} scroller
 * @returns {{ li: Element, offset: number } | null}
 */
export function timelineBefore(list, scroller) {
  const top = scroller.getBoundingClientRect().top;
  let anchor = null;
  for (const li of list.querySelectorAll('li.msg')) {
    const r = li.getBoundingClientRect();
    if (r.bottom > top) {
      anchor = { li, offset: r.top - top };
      break;
    }
  }
  list.querySelectorAll(':scope > li.timeline-sep').forEach((el) => el.remove());
  return anchor;
}

/**
 * @param {string} text
 * @param {string} kind  day | unread
 */
function separator(text, kind) {
  const li = document.createElement('li');
  li.className = `timeline-sep ${kind}`;
  li.dataset.testid = kind === 'day' ? 'day-separator' : 'unread-divider';
  const span = document.createElement('span');
  span.textContent = text;
  li.append(span);
  return li;
}

/**
 * After the message list is rendered: a separator before each new day's first message and the
 * unread divider before the first message that was unread on opening; the message that was at the
 * top of the view stays where it was (or the view stays at the bottom).
 * @param {HTMLElement} list
 * @param {HTMLElement} scroller
 * @param {{ li: Element, offset: number } | null} anchor
 * @param {boolean} atBottom
 * @param {string | null} conversationId  the open conversation
 */
export function timelineAfter(list, scroller, anchor, atBottom, conversationId) {
  let lastDay = '';
  let dividerDone = false;
  const mark = opened && opened.conversationId === conversationId && opened.count > 0 ? opened : null;
  for (const li of [...list.children]) {
    if (!(li instanceof HTMLLIElement) || !li.classList.contains('msg')) continue;
    // A status tick is named ("Read"): an image, so the name is allowed and read out.
    const tick = li.querySelector('.tick');
    if (tick?.hasAttribute('aria-label') && tick.getAttribute('role') !== 'img') tick.setAttribute('role', 'img');
    const iso = li.querySelector('time')?.dateTime;
    const ms = iso ? Date.parse(iso) : NaN;
    if (!Number.isNaN(ms)) {
      const day = new Date(ms).toDateString();
      if (day !== lastDay) li.before(separator(dayLabel(ms), 'day'));
      lastDay = day;
    }
    const seq = Number(li.dataset.seq || 0);
    if (mark && !dividerDone && li.dataset.own !== 'true' && seq > mark.readUpTo) {
      li.before(separator(`${mark.count} unread message${mark.count === 1 ? '' : 's'}`, 'unread'));
      dividerDone = true;
    }
  }
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  else if (anchor && anchor.li.isConnected) {
    const now = anchor.li.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    scroller.scrollTop += now - anchor.offset;
  }
}

/**
 * Opens the view at the unread divider (a little of what came before stays in sight) when there
 * is one below the top; false when there is none, and the caller scrolls to the bottom.
 * @param {HTMLElement} scroller
 */
export function scrollToFirstUnread(scroller) {
  const divider = scroller.querySelector('[data-testid=unread-divider]');
  if (!(divider instanceof HTMLElement)) return false;
  const offset = divider.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  scroller.scrollTop = Math.max(0, scroller.scrollTop + offset - 48);
  return true;
}

// ---- unread total: tab title and favicon ----

/**
 * "(3) Confab" and the favicon with a dot while any conversation has unread messages (the open
 * one counts as read while the page is visible, as in the list).
 * @param {ConfabClient | null} client
 * @param {string | null} current
 */
export function updateUnreadTotal(client, current) {
  let total = 0;
  if (client) {
    for (const c of client.conversationList()) {
      const id = c.conversationId;
      if (id === current && document.visibilityState === 'visible') continue;
      total += client.unreadCount(id);
    }
  }
  const title = total ? `(${total}) ${TITLE}` : TITLE;
  if (document.title !== title) document.title = title;
  const icon = document.getElementById('favicon');
  const href = total ? '/favicon-unread.svg' : '/favicon.svg';
  if (icon instanceof HTMLLinkElement && icon.getAttribute('href') !== href) icon.setAttribute('href', href);
}

// ---- announcing new messages ----

/** @type {Map<string, number>} conversationId -> newest sequence number already announced */
const announced = new Map();

/**
 * The live region screen readers read new messages of the open conversation from: one polite
 * region of its own (the message list is not live, so re-renders and ticks are not read out).
 */
function announcer() {
  let el = document.getElementById('message-announcer');
  if (!el) {
    el = document.createElement('div');
    el.id = 'message-announcer';
    el.className = 'visually-hidden';
    el.dataset.testid = 'message-announcer';
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    document.body.append(el);
  }
  return el;
}

/**
 * Announces the messages of others that arrived in the open conversation since it was opened or
 * last announced ("New message from Bob: hello").
 * @param {ConfabClient} client
 * @param {string} conversationId
 * @param {(id: string) => string} userName
 * @param {(m: any) => string} textOf
 */
export function announceNew(client, conversationId, userName, textOf) {
  const from = announced.get(conversationId) ?? 0;
  let newest = from;
  const lines = [];
  for (const m of client.messages(conversationId)) {
    const seq = m.sequenceNumber ?? 0;
    if (seq <= from) continue;
    newest = Math.max(newest, seq);
    if (m.senderId !== client.userId) lines.push(`New message from ${userName(m.senderId)}: ${textOf(m)}`);
  }
  announced.set(conversationId, newest);
  if (lines.length) announcer().textContent = lines.slice(-3).join('\n');
}

/** Signed out: the title and icon show nothing unread, nothing is left to announce. */
export function resetPolish() {
  opened = null;
  announced.clear();
  document.getElementById('message-announcer')?.replaceChildren();
  updateUnreadTotal(null, null);
}
