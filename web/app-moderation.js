// Confab web client, moderation: the "Report" dialog on messages, the administrators' panel
// (server counts, users with ban and unban, open reports with resolve) and the screen a suspended
// user sees. app.js opens these; they only use the SDK and the elements of index.html.
import { ConfabError } from './sdk/confab.js';

/** @typedef {import('./sdk/confab.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/types/proto.js').AdminUser} AdminUser */
/** @typedef {import('./sdk/types/proto.js').Report} Report */
/** @typedef {import('./sdk/types/proto.js').BanNotice} BanNotice */

/**
 * The element with this id, of this type (index.html has it, so a missing one is a bug).
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

/** @param {unknown} ex */
function errorText(ex) {
  if (ex instanceof ConfabError && ex.code === 'RATE_LIMITED') {
    return `Too many reports. Try again in ${ex.retryAfter || 1} s.`;
  }
  const text = ex instanceof Error ? ex.message : String(ex);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** @param {number} ms */
function when(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * @param {string} label
 * @param {string} testid
 * @param {() => void} onClick
 * @param {string} [className]
 */
function button(label, testid, onClick, className) {
  const b = /** @type {HTMLButtonElement} */ (el('button', className, label));
  b.type = 'button';
  b.dataset.testid = testid;
  b.addEventListener('click', onClick);
  return b;
}

// ---- reporting a message ----

/**
 * The "Report message" dialog for someone else's message.
 * @param {ConfabClient} client
 * @param {string} conversationId
 * @param {string} messageId
 * @param {string} quote  the message's text, shown so the reporter sees what they report
 */
export function openReportDialog(client, conversationId, messageId, quote) {
  const dialog = $('report-dialog', HTMLDialogElement);
  const reason = $('report-reason', HTMLTextAreaElement);
  const send = $('report-send', HTMLButtonElement);
  const error = $('report-error');
  $('report-quote').textContent = quote;
  reason.value = '';
  error.hidden = true;
  $('report-status').textContent = '';
  send.disabled = false;
  send.hidden = false;
  $('report-cancel').textContent = 'Cancel';
  $('report-cancel').onclick = () => dialog.close();
  $('report-form').onsubmit = async (e) => {
    e.preventDefault();
    error.hidden = true;
    const text = reason.value.trim();
    if (!text) {
      error.textContent = 'Say why you are reporting this message.';
      error.hidden = false;
      return;
    }
    send.disabled = true;
    try {
      await client.report(conversationId, messageId, text);
      $('report-status').textContent = 'Thank you. The administrators will look at it.';
      send.hidden = true;
      $('report-cancel').textContent = 'Close';
    } catch (ex) {
      error.textContent = errorText(ex);
      error.hidden = false;
      send.disabled = false;
    }
  };
  dialog.showModal();
  reason.focus();
}

// ---- the administrators' panel ----

/**
 * The administration panel: counts, users (search, ban, unban) and open reports (resolve).
 * @param {ConfabClient} client
 */
export function openAdminPanel(client) {
  const dialog = $('admin-dialog', HTMLDialogElement);
  const search = $('admin-user-search', HTMLInputElement);
  const showError = (/** @type {unknown} */ ex) => {
    $('admin-error').textContent = errorText(ex);
    $('admin-error').hidden = false;
  };
  $('admin-error').hidden = true;
  search.value = '';
  $('admin-users').replaceChildren();

  const renderStats = async () => {
    try {
      const s = await client.admin.stats();
      const rows = [
        ['Users', s.users],
        ['Conversations', s.conversations],
        ['Messages', s.messages],
        ['Open reports', s.openReports],
        ['Banned users', s.activeBans],
        ['Connections (this node)', s.liveConnections],
      ];
      $('admin-stats').replaceChildren(
        ...rows.map(([label, value]) => {
          const dd = el('dd', '', String(value));
          dd.dataset.stat = String(label);
          const pair = el('div');
          pair.append(el('dt', '', String(label)), dd);
          return pair;
        }),
      );
    } catch (ex) {
      showError(ex);
    }
  };

  let seq = 0;
  const renderUsers = async () => {
    const mine = ++seq;
    let users;
    try {
      users = (await client.admin.users({ query: search.value.trim().toLowerCase(), limit: 20 })).users;
    } catch (ex) {
      showError(ex);
      return;
    }
    if (mine !== seq) return;
    $('admin-users').replaceChildren(...users.map((u) => userItem(u)));
  };

  /** @param {AdminUser} u */
  const userItem = (u) => {
    const li = el('li', 'admin-item');
    li.dataset.testid = 'admin-user';
    li.dataset.username = u.username;
    li.dataset.banned = String(!!u.ban);
    const who = el('div');
    who.append(el('strong', '', u.displayName || u.username), ' ', el('span', 'sub', '@' + u.username));
    if (u.admin) who.append(' ', el('span', 'tag', 'admin'));
    li.append(who);
    if (u.ban) {
      const until = u.ban.until ? ` until ${when(u.ban.until)}` : '';
      li.append(el('p', 'sub', `Banned${until}: ${u.ban.reason}`));
      li.append(
        button('Unban', 'admin-unban', async () => {
          try {
            await client.admin.unban(u.userId);
            await Promise.all([renderUsers(), renderStats()]);
          } catch (ex) {
            showError(ex);
          }
        }),
      );
    } else if (!u.admin && u.userId !== client.userId) {
      const reason = /** @type {HTMLInputElement} */ (el('input'));
      reason.placeholder = 'Reason for the ban';
      reason.dataset.testid = 'admin-ban-reason';
      reason.setAttribute('aria-label', `Reason for banning ${u.username}`);
      reason.maxLength = 1000;
      const ban = button(
        'Ban',
        'admin-ban',
        async () => {
          if (!reason.value.trim()) {
            showError(new Error('give a reason for the ban'));
            reason.focus();
            return;
          }
          ban.disabled = true;
          try {
            await client.admin.ban(u.userId, reason.value.trim());
            await Promise.all([renderUsers(), renderStats()]);
          } catch (ex) {
            showError(ex);
            ban.disabled = false;
          }
        },
        'danger',
      );
      const row = el('div', 'admin-row');
      row.append(reason, ban);
      li.append(row);
    }
    return li;
  };

  const renderReports = async () => {
    let reports;
    try {
      reports = (await client.admin.reports({ status: 'open', limit: 50 })).reports;
    } catch (ex) {
      showError(ex);
      return;
    }
    /** @type {Map<string, string>} user id → name, for the people the reports name */
    const names = new Map();
    const ids = new Set(reports.flatMap((r) => [r.senderId, r.reporterId]));
    await Promise.all(
      [...ids].map((id) =>
        client
          .api('GET', `/users/${encodeURIComponent(id)}`)
          .then((/** @type {import('./sdk/types/proto.js').User} */ u) => names.set(id, `${u.displayName} (@${u.username})`))
          .catch(() => names.set(id, id)),
      ),
    );
    const list = $('admin-reports');
    list.replaceChildren(...reports.map((r) => reportItem(r, names)));
    if (!reports.length) list.append(el('li', 'sub', 'No open reports.'));
  };

  /** @param {Report} r @param {Map<string, string>} names */
  const reportItem = (r, names) => {
    const li = el('li', 'admin-item');
    li.dataset.testid = 'admin-report';
    li.dataset.reportId = r.reportId;
    const c = r.message?.content;
    const text = !c
      ? '(no longer stored)'
      : c.type === 'deleted'
        ? '(deleted)'
        : c.type === 'text'
          ? c.text
          : c.text || `[${c.type}]`;
    li.append(el('blockquote', 'quote', text));
    li.append(
      el('p', 'sub', `By ${names.get(r.senderId)}, reported by ${names.get(r.reporterId)} on ${when(r.createdAt)}`),
    );
    li.append(el('p', '', `Reason: ${r.reason}`));
    const resolution = /** @type {HTMLInputElement} */ (el('input'));
    resolution.placeholder = 'What was done';
    resolution.dataset.testid = 'admin-resolution';
    resolution.setAttribute('aria-label', 'Resolution');
    resolution.maxLength = 1000;
    const resolve = button('Resolve', 'admin-resolve', async () => {
      resolve.disabled = true;
      try {
        await client.admin.resolve(r.reportId, resolution.value.trim() || 'reviewed');
        await Promise.all([renderReports(), renderStats()]);
      } catch (ex) {
        showError(ex);
        resolve.disabled = false;
      }
    });
    const row = el('div', 'admin-row');
    row.append(resolution, resolve);
    if (c && c.type !== 'deleted') {
      // Takes the message back for everyone (a tombstone), then resolves the report saying so.
      const remove = button(
        'Delete message',
        'admin-delete-message',
        async () => {
          remove.disabled = true;
          try {
            await client.admin.deleteMessage(r.conversationId, r.messageId, r.senderId);
            await client.admin.resolve(r.reportId, resolution.value.trim() || 'message deleted');
            await Promise.all([renderReports(), renderStats()]);
          } catch (ex) {
            showError(ex);
            remove.disabled = false;
          }
        },
        'danger',
      );
      row.append(remove);
    }
    li.append(row);
    return li;
  };

  search.oninput = renderUsers;
  $('admin-close').onclick = () => dialog.close();
  dialog.showModal();
  search.focus();
  renderStats();
  renderUsers();
  renderReports();
}

// ---- a suspended account ----

/**
 * The screen a banned user sees instead of the chat or the sign-in form.
 * @param {HTMLElement} app  where screens go
 * @param {unknown} error  the `BANNED` error (its `ban` says why and until when)
 * @param {() => void} onBack  shows the sign-in screen
 */
export function showSuspended(app, error, onBack) {
  app.replaceChildren($('tpl-suspended', HTMLTemplateElement).content.cloneNode(true));
  /** @type {BanNotice | undefined} */
  const ban = error instanceof ConfabError ? error.ban : undefined;
  $('suspended-reason').textContent = ban?.reason || 'not given';
  $('suspended-until').textContent = ban?.until
    ? `The suspension ends on ${when(ban.until)}.`
    : 'The suspension lasts until an administrator lifts it.';
  $('suspended-back').addEventListener('click', onBack);
  $('suspended-back').focus();
}

/** Whether a failed call means the account is suspended. @param {unknown} ex */
export function isBanned(ex) {
  return ex instanceof ConfabError && ex.code === 'BANNED';
}
