// Message search: a dialog opened from the sidebar (all conversations) or the conversation header
// (that conversation only). Results show the conversation, the sender and the snippet, its hits
// marked (built from text nodes and <mark> elements, never innerHTML); "More results" follows the
// cursor. Choosing a result opens its conversation at that message, loading history back to it
// (the same jump as a reply's quote).

import { snippetParts } from './sdk/sdk-search.js';

/** @typedef {import('./sdk/sdk-client.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/types/proto.js').SearchResult} SearchResult */

/**
 * @typedef {object} SearchHooks
 * @property {() => ConfabClient} client  the signed-in client
 * @property {() => string | null} current  the open conversation
 * @property {(conversationId: string, messageId: string, sequence: number) => Promise<void>} show
 *   opens a conversation at a message
 */

/** The dialog, built once and kept in the page (emptied when it opens). */
function dialog() {
  const existing = document.getElementById('search-dialog');
  if (existing instanceof HTMLDialogElement) return existing;
  const d = document.createElement('dialog');
  d.id = 'search-dialog';
  d.className = 'dialog search-dialog';
  d.dataset.testid = 'search-dialog';
  d.setAttribute('aria-labelledby', 'search-title');
  const h2 = document.createElement('h2');
  h2.id = 'search-title';
  const form = document.createElement('form');
  form.id = 'search-form';
  const label = document.createElement('label');
  label.textContent = 'Search messages';
  const input = document.createElement('input');
  input.id = 'search-input';
  input.type = 'search';
  input.autocomplete = 'off';
  input.maxLength = 256;
  input.dataset.testid = 'search-input';
  input.setAttribute('aria-controls', 'search-results');
  label.append(input);
  const hint = document.createElement('p');
  hint.className = 'hint';
  hint.textContent = 'Words match without case or accents; "exact phrase", prefix*.';
  form.append(label, hint);
  const status = document.createElement('p');
  status.id = 'search-status';
  status.className = 'sub';
  status.dataset.testid = 'search-status';
  status.setAttribute('role', 'status');
  const list = document.createElement('ul');
  list.id = 'search-results';
  list.className = 'search-results';
  list.dataset.testid = 'search-results';
  list.setAttribute('aria-label', 'Messages found');
  const more = document.createElement('button');
  more.type = 'button';
  more.id = 'search-more';
  more.className = 'link';
  more.dataset.testid = 'search-more';
  more.textContent = 'More results';
  more.hidden = true;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = 'Close';
  close.addEventListener('click', () => d.close());
  const row = document.createElement('div');
  row.className = 'row';
  row.append(more, close);
  d.append(h2, form, status, list, row);
  document.body.append(d);
  return d;
}

/**
 * A snippet as text nodes and <mark> elements.
 * @param {string} snippet
 */
export function snippetNodes(snippet) {
  return snippetParts(snippet).map((p) => {
    if (!p.mark) return document.createTextNode(p.text);
    const mark = document.createElement('mark');
    mark.textContent = p.text;
    return mark;
  });
}

/**
 * Opens the search dialog: over every conversation, or `conversationId` only.
 * @param {SearchHooks} hooks
 * @param {string | null} conversationId
 */
export function openSearch(hooks, conversationId) {
  const client = hooks.client();
  const d = dialog();
  const title = /** @type {HTMLElement} */ (d.querySelector('#search-title'));
  const form = /** @type {HTMLFormElement} */ (d.querySelector('#search-form'));
  const input = /** @type {HTMLInputElement} */ (d.querySelector('#search-input'));
  const status = /** @type {HTMLElement} */ (d.querySelector('#search-status'));
  const list = /** @type {HTMLUListElement} */ (d.querySelector('#search-results'));
  const more = /** @type {HTMLButtonElement} */ (d.querySelector('#search-more'));
  title.textContent = conversationId ? `Search in ${client.conversationName(conversationId)}` : 'Search all conversations';
  d.dataset.scope = conversationId ? 'conversation' : 'all';
  input.value = '';
  status.textContent = '';
  list.replaceChildren();
  more.hidden = true;
  /** Answers to an older query are dropped. */
  let generation = 0;
  /** @type {string | null} */
  let cursor = null;
  let q = '';

  /** @param {SearchResult} r */
  const item = (r) => {
    const m = r.message;
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'search-result';
    b.dataset.testid = 'search-result';
    b.dataset.conversationId = m.conversationId;
    b.dataset.messageId = m.messageId;
    const head = document.createElement('span');
    head.className = 'sub';
    const sender = client.users.get(m.senderId)?.displayName || '';
    head.textContent = [conversationId ? '' : client.conversationName(m.conversationId), sender, new Date(m.timestamp).toLocaleString()]
      .filter(Boolean)
      .join(' · ');
    const text = document.createElement('span');
    text.className = 'snippet';
    text.dataset.testid = 'search-snippet';
    text.append(...snippetNodes(r.snippet));
    b.append(head, text);
    b.addEventListener('click', () => {
      d.close();
      hooks.show(m.conversationId, m.messageId, m.sequenceNumber).catch(() => {});
    });
    li.append(b);
    return li;
  };

  /** @param {boolean} next */
  const run = async (next) => {
    const mine = ++generation;
    if (!next) {
      q = input.value.trim();
      cursor = null;
      list.replaceChildren();
      more.hidden = true;
      if (!q) {
        status.textContent = '';
        return;
      }
    }
    status.textContent = 'Searching…';
    try {
      const page = await client.search.messages(q, { conversationId: conversationId || undefined, cursor: cursor || undefined });
      if (mine !== generation) return;
      list.append(...page.results.map(item));
      cursor = page.nextCursor ?? null;
      more.hidden = !cursor;
      const n = list.children.length;
      status.textContent = n ? `${n}${cursor ? '+' : ''} message${n === 1 ? '' : 's'} found` : 'No messages found.';
    } catch (e) {
      if (mine !== generation) return;
      status.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  form.onsubmit = (e) => {
    e.preventDefault();
    run(false);
  };
  more.onclick = () => run(true);
  d.showModal();
  input.focus();
}

/**
 * Wires the search buttons of the chat screen (a fresh copy each sign-in).
 * @param {SearchHooks} hooks
 */
export function bindSearch(hooks) {
  document.getElementById('search-all-btn')?.addEventListener('click', () => openSearch(hooks, null));
  document.getElementById('search-here-btn')?.addEventListener('click', () => openSearch(hooks, hooks.current()));
}
