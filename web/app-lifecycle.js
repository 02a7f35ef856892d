// The web client's message actions: reply (the quoted message shown above the reply; a click on the
// quote jumps to it), edit (in the composer; an "edited" mark), delete for everyone (after a
// confirmation), reactions (a picker, counts, who reacted on hover). `app.js` calls `decorate` for
// each message it renders and hands clicks and the composer's submit here first.

import { messageKey } from './sdk/confab.js';

/** @typedef {import('./sdk/confab.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk/types/proto.js').Message} Message */

/** The emoji the picker offers (any emoji can be sent through the SDK). */
export const PICKER_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🎉'];

/** Longest quoted text shown above a reply. */
const QUOTE_CHARS = 120;

/**
 * What the composer is doing besides writing a new message.
 * @typedef {{ kind: 'reply' | 'edit', senderId: string, messageId: string } | null} ComposerMode
 */

export class MessageActions {
  /**
   * @param {object} deps
   * @param {() => ConfabClient} deps.client  the signed-in client
   * @param {() => string | null} deps.current  the open conversation
   * @param {(m: LocalMessage | Message | null | undefined) => string} deps.textOf
   * @param {(text: string) => void} deps.setComposer  puts text in the composer and focuses it
   * @param {() => Promise<number>} deps.loadOlder  loads an older page; resolves to how many came
   * @param {(error: unknown) => void} deps.showError
   */
  constructor({ client, current, textOf, setComposer, loadOlder, showError }) {
    this.deps = { client, current, textOf, setComposer, loadOlder, showError };
    /** @type {ComposerMode} */
    this.mode = null;
  }

  /**
   * Renders the parts of a message item this module owns: quote, edited mark, tombstone,
   * reactions and the action buttons.
   * @param {HTMLLIElement} li
   * @param {LocalMessage} m
   */
  decorate(li, m) {
    const client = this.deps.client();
    const own = m.senderId === client.userId;
    const deleted = m.deleted === true || m.content.type === 'deleted';
    li.classList.toggle('deleted', deleted);
    li.dataset.deleted = String(deleted);

    let quote = /** @type {HTMLButtonElement | null} */ (li.querySelector('.quote'));
    const target = !deleted && m.replyTo ? this.#quoted(m) : undefined;
    if (!deleted && m.replyTo) {
      if (!quote) {
        quote = document.createElement('button');
        quote.type = 'button';
        quote.className = 'quote';
        quote.dataset.action = 'jump';
        quote.dataset.testid = 'message-quote';
        li.prepend(quote);
      }
      const who = target ? (target.senderId === client.userId ? 'You' : client.userName(target.senderId)) : '';
      const text = target ? this.deps.textOf(target) : 'Earlier message';
      quote.textContent = (who ? who + ': ' : '') + (text.length > QUOTE_CHARS ? text.slice(0, QUOTE_CHARS) + '…' : text);
      quote.title = 'Show the message this replies to';
      quote.dataset.replyTo = m.replyTo;
      quote.dataset.replySeq = String(m.replyToSequence ?? target?.sequenceNumber ?? '');
    } else quote?.remove();

    const meta = li.querySelector('.meta');
    let edited = /** @type {HTMLElement | null} */ (li.querySelector('.edited'));
    if (m.editedAt && !deleted) {
      if (!edited) {
        edited = document.createElement('span');
        edited.className = 'edited';
        edited.dataset.testid = 'message-edited';
        edited.textContent = 'edited';
        meta?.prepend(edited);
      }
      edited.title = 'Edited ' + new Date(m.editedAt).toLocaleString();
    } else edited?.remove();

    let timer = /** @type {HTMLElement | null} */ (li.querySelector('.expires'));
    const expiresAt = m.expiresAt ?? (m.expiresInSeconds ? (m.localTime || Date.now()) + m.expiresInSeconds * 1000 : null);
    if (expiresAt && !deleted) {
      if (!timer) {
        timer = document.createElement('span');
        timer.className = 'expires';
        timer.dataset.testid = 'message-expires';
        meta?.prepend(timer);
      }
      // The timer's length (stable, as in other messengers), with the moment in the tooltip.
      timer.textContent = '⏱ ' + untilText(expiresAt - (m.timestamp ?? m.localTime ?? Date.now()));
      timer.title = 'Disappears ' + new Date(expiresAt).toLocaleString();
    } else timer?.remove();

    this.#reactions(li, m, deleted);

    let actions = /** @type {HTMLElement | null} */ (li.querySelector('.msg-actions'));
    const acted = m.sequenceNumber != null && !deleted;
    if (!acted) {
      actions?.remove();
      return;
    }
    if (!actions) {
      actions = document.createElement('div');
      actions.className = 'msg-actions';
      li.append(actions);
    }
    const buttons = [['reply', 'Reply'], ['react', 'React']];
    const canEdit = own && m.content.type !== 'deleted';
    if (canEdit) buttons.push(['edit', 'Edit']);
    if (own || this.#isAdmin()) buttons.push(['delete', 'Delete']);
    const wanted = buttons.map(([action]) => action).join(',');
    if (actions.dataset.actions !== wanted) {
      actions.dataset.actions = wanted;
      actions.replaceChildren(
        ...buttons.map(([action, label]) => {
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'link';
          b.dataset.action = action;
          b.dataset.testid = 'message-' + action;
          b.textContent = label;
          return b;
        }),
      );
    }
  }

  /**
   * A click in the message list. Returns true when it was one of this module's buttons.
   * @param {Element} target
   */
  onClick(target) {
    const btn = target.closest('button[data-action]');
    const li = btn?.closest('li');
    if (!(btn instanceof HTMLButtonElement) || !(li instanceof HTMLLIElement)) return false;
    const conversationId = this.deps.current();
    const senderId = li.dataset.senderId || '';
    const messageId = li.dataset.messageId || '';
    if (!conversationId) return false;
    const client = this.deps.client();
    const m = client.timeline(conversationId).get(senderId, messageId);
    const fail = (/** @type {unknown} */ e) => this.deps.showError(e);
    switch (btn.dataset.action) {
      case 'reply':
        this.mode = { kind: 'reply', senderId, messageId };
        this.#renderBar();
        this.deps.setComposer('');
        return true;
      case 'edit':
        if (!m) return true;
        this.mode = { kind: 'edit', senderId, messageId };
        this.#renderBar();
        // An attachment's caption is what an edit changes.
        this.deps.setComposer(m.content.type === 'text' ? m.content.text : 'text' in m.content ? m.content.text || '' : '');
        return true;
      case 'delete':
        this.#confirmDelete().then((yes) => {
          if (yes) client.deleteMessage(conversationId, messageId, senderId).catch(fail);
        });
        return true;
      case 'react':
        this.#openPicker(btn, conversationId, senderId, messageId);
        return true;
      case 'toggle-reaction': {
        const emoji = btn.dataset.emoji || '';
        const mine = btn.dataset.mine === 'true';
        (mine ? client.unreact(conversationId, messageId, emoji, senderId) : client.react(conversationId, messageId, emoji, senderId)).catch(fail);
        return true;
      }
      case 'jump':
        this.jumpTo(conversationId, btn.dataset.replyTo || '', Number(btn.dataset.replySeq) || null).catch(fail);
        return true;
      default:
        return false;
    }
  }

  /**
   * The composer was submitted with `text`. Returns true when a reply or an edit took it.
   * @param {string} text
   */
  submit(text) {
    const conversationId = this.deps.current();
    const mode = this.mode;
    if (!mode || !conversationId) return false;
    const client = this.deps.client();
    if (mode.kind === 'reply') client.reply(conversationId, text, mode.messageId);
    else client.edit(conversationId, mode.messageId, text).catch((e) => this.deps.showError(e));
    this.cancel();
    return true;
  }

  /** Leaves reply or edit mode (Escape, the bar's ✕, another conversation). */
  cancel() {
    const wasEditing = this.mode?.kind === 'edit';
    this.mode = null;
    this.#renderBar();
    if (wasEditing) this.deps.setComposer('');
  }

  /**
   * Scrolls to the message a reply quotes, loading older pages until it is there, and highlights it.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {number | null} sequence
   */
  async jumpTo(conversationId, messageId, sequence) {
    const client = this.deps.client();
    const find = () =>
      client.messages(conversationId).find((m) => (sequence ? m.sequenceNumber === sequence : m.messageId === messageId));
    for (let i = 0; i < 20 && !find() && client.timeline(conversationId).hasOlder; i++) {
      if ((await this.deps.loadOlder()) === 0) break;
    }
    const m = find();
    if (!m) return;
    const li = document.querySelector(`li[data-key="${CSS.escape(messageKey(m.senderId, m.messageId))}"]`);
    if (!(li instanceof HTMLElement)) return;
    li.scrollIntoView({ block: 'center' });
    li.classList.remove('flash');
    void li.offsetWidth; // restart the highlight animation
    li.classList.add('flash');
    li.dataset.highlighted = 'true';
  }

  /** @param {LocalMessage} m */
  #quoted(m) {
    const conversationId = this.deps.current();
    if (!conversationId || !m.replyTo) return undefined;
    const list = this.deps.client().messages(conversationId);
    if (m.replyToSequence) return list.find((x) => x.sequenceNumber === m.replyToSequence);
    // Not confirmed yet: the replier's own message with that id, else the newest (the server's rule).
    const same = list.filter((x) => x.messageId === m.replyTo);
    return same.find((x) => x.senderId === m.senderId) || same[same.length - 1];
  }

  #isAdmin() {
    const id = this.deps.current();
    const client = this.deps.client();
    const c = id ? client.conversations.get(id) : undefined;
    return c?.type === 'group' && c.participants.some((p) => p.userId === client.userId && p.role === 'admin');
  }

  /**
   * @param {HTMLLIElement} li
   * @param {LocalMessage} m
   * @param {boolean} deleted
   */
  #reactions(li, m, deleted) {
    const client = this.deps.client();
    let row = /** @type {HTMLElement | null} */ (li.querySelector('.reactions'));
    const list = deleted ? [] : m.reactions || [];
    if (!list.length) {
      row?.remove();
      return;
    }
    if (!row) {
      row = document.createElement('div');
      row.className = 'reactions';
      row.dataset.testid = 'message-reactions';
      li.querySelector('.meta')?.before(row);
    }
    row.replaceChildren(
      ...list.map((r) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'reaction';
        b.dataset.action = 'toggle-reaction';
        b.dataset.testid = 'reaction';
        b.dataset.emoji = r.emoji;
        const mine = r.userIds.includes(client.userId);
        b.dataset.mine = String(mine);
        b.classList.toggle('mine', mine);
        b.textContent = `${r.emoji} ${r.count}`;
        const names = r.userIds.map((u) => (u === client.userId ? 'You' : client.userName(u)));
        const more = r.count - r.userIds.length;
        b.title = names.join(', ') + (more > 0 ? ` and ${more} more` : '');
        b.setAttribute('aria-label', `${r.emoji} ${r.count}: ${b.title}`);
        return b;
      }),
    );
  }

  /**
   * @param {HTMLElement} anchor
   * @param {string} conversationId
   * @param {string} senderId
   * @param {string} messageId
   */
  #openPicker(anchor, conversationId, senderId, messageId) {
    document.querySelector('.emoji-picker')?.remove();
    const picker = document.createElement('div');
    picker.className = 'emoji-picker';
    picker.dataset.testid = 'emoji-picker';
    picker.setAttribute('role', 'menu');
    for (const emoji of PICKER_EMOJI) {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'menuitem');
      b.dataset.testid = 'emoji-option';
      b.textContent = emoji;
      b.addEventListener('click', () => {
        picker.remove();
        this.deps.client().react(conversationId, messageId, emoji, senderId).catch((e) => this.deps.showError(e));
      });
      picker.append(b);
    }
    anchor.after(picker);
    picker.querySelector('button')?.focus();
    picker.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        picker.remove();
        anchor.focus();
      }
    });
  }

  /** Asks before deleting for everyone; resolves to the answer. */
  #confirmDelete() {
    let dialog = document.getElementById('delete-dialog');
    if (!(dialog instanceof HTMLDialogElement)) {
      dialog = document.createElement('dialog');
      dialog.id = 'delete-dialog';
      dialog.className = 'dialog';
      dialog.dataset.testid = 'delete-dialog';
      dialog.innerHTML = `<form method="dialog"><h2>Delete for everyone?</h2><p class="hint">The message is removed for every member. This cannot be undone.</p><div class="dialog-actions"><button value="cancel" data-testid="delete-cancel">Cancel</button><button value="delete" class="primary danger" data-testid="delete-confirm">Delete</button></div></form>`;
      document.body.append(dialog);
    }
    const d = /** @type {HTMLDialogElement} */ (dialog);
    d.returnValue = '';
    d.showModal();
    return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'delete'), { once: true }));
  }

  /** The bar above the composer saying what it is doing, with a way out. */
  #renderBar() {
    const composer = document.getElementById('composer');
    if (!composer) return;
    let bar = document.getElementById('composer-mode');
    const mode = this.mode;
    const conversationId = this.deps.current();
    if (!mode || !conversationId) {
      bar?.remove();
      return;
    }
    if (!bar) {
      bar = document.createElement('div');
      bar.id = 'composer-mode';
      bar.className = 'composer-mode';
      bar.dataset.testid = 'composer-mode';
      composer.before(bar);
    }
    const client = this.deps.client();
    const m = client.timeline(conversationId).get(mode.senderId, mode.messageId);
    const who = mode.senderId === client.userId ? 'yourself' : client.userName(mode.senderId);
    const label = document.createElement('span');
    label.textContent = mode.kind === 'edit' ? 'Editing your message' : `Replying to ${who}: ${this.deps.textOf(m).slice(0, QUOTE_CHARS)}`;
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'icon';
    close.dataset.testid = 'composer-mode-cancel';
    close.setAttribute('aria-label', mode.kind === 'edit' ? 'Cancel editing' : 'Cancel reply');
    close.textContent = '✕';
    close.addEventListener('click', () => this.cancel());
    bar.replaceChildren(label, close);
  }
}

/**
 * A disappearing message's timer, roughly: "5s", "3m", "2h", "4d".
 * @param {number} ms
 */
export function untilText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
