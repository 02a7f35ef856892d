// Quick jump: Ctrl+K (Cmd+K on a Mac) opens a dialog that finds a conversation by name; Enter
// opens the first match, arrow keys move through the matches, Escape closes it. Also: Escape in a
// dialog's search field closes the dialog (Chromium would only clear the field).

/** @typedef {import('./sdk/sdk-client.js').ConfabClient} ConfabClient */

/**
 * @typedef {object} JumpHooks
 * @property {() => ConfabClient | null} client  the signed-in client, null on the sign-in screen
 * @property {(conversationId: string) => void} open  opens a conversation
 */

/** The dialog, built once and kept in the page (it holds no user data while closed). */
function dialog() {
  const existing = document.getElementById('jump-dialog');
  if (existing instanceof HTMLDialogElement) return existing;
  const d = document.createElement('dialog');
  d.id = 'jump-dialog';
  d.className = 'dialog';
  d.dataset.testid = 'jump-dialog';
  d.setAttribute('aria-labelledby', 'jump-title');
  const h2 = document.createElement('h2');
  h2.id = 'jump-title';
  h2.textContent = 'Jump to a conversation';
  const label = document.createElement('label');
  label.textContent = 'Conversation name';
  const input = document.createElement('input');
  input.id = 'jump-input';
  input.type = 'search';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.dataset.testid = 'jump-input';
  input.setAttribute('aria-controls', 'jump-results');
  label.append(input);
  const list = document.createElement('ul');
  list.id = 'jump-results';
  list.className = 'people';
  list.dataset.testid = 'jump-results';
  list.setAttribute('aria-label', 'Matching conversations');
  const hint = document.createElement('p');
  hint.className = 'hint';
  hint.textContent = 'Enter opens the first match; ↑ ↓ move through them; Esc closes.';
  const form = document.createElement('form');
  form.method = 'dialog';
  form.append(h2, label, list, hint);
  d.append(form);
  document.body.append(d);
  return d;
}

/**
 * Registers the shortcut (once per page).
 * @param {JumpHooks} hooks
 */
export function installJump(hooks) {
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key !== 'Escape' || !(t instanceof HTMLInputElement) || t.type !== 'search') return;
    const d = t.closest('dialog');
    if (!(d instanceof HTMLDialogElement) || !d.open) return;
    e.preventDefault();
    d.close();
  });
  window.addEventListener('keydown', (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.key.toLowerCase() !== 'k') return;
    const client = hooks.client();
    if (!client) return;
    e.preventDefault();
    openJump(client, hooks);
  });
}

/**
 * @param {ConfabClient} client
 * @param {JumpHooks} hooks
 */
function openJump(client, hooks) {
  const d = dialog();
  if (d.open) return;
  const input = /** @type {HTMLInputElement} */ (d.querySelector('#jump-input'));
  const list = /** @type {HTMLUListElement} */ (d.querySelector('#jump-results'));
  /** @param {string} id */
  const go = (id) => {
    d.close();
    hooks.open(id);
  };
  const render = () => {
    const q = input.value.trim().toLowerCase();
    const matches = client
      .conversationList()
      .map((c) => ({ id: c.conversationId, name: client.conversationName(c.conversationId) }))
      .filter((c) => !q || c.name.toLowerCase().includes(q))
      .slice(0, 20);
    list.replaceChildren(
      ...matches.map((c) => {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.testid = 'jump-result';
        b.dataset.conversationId = c.id;
        b.textContent = c.name;
        b.addEventListener('click', () => go(c.id));
        li.append(b);
        return li;
      }),
    );
    if (!matches.length) {
      const li = document.createElement('li');
      li.className = 'sub';
      li.textContent = 'No conversation with that name.';
      list.append(li);
    }
  };
  input.value = '';
  input.oninput = render;
  input.onkeydown = (e) => {
    const first = list.querySelector('button');
    if (e.key === 'Enter') {
      e.preventDefault();
      if (first instanceof HTMLButtonElement) go(first.dataset.conversationId || '');
    } else if (e.key === 'ArrowDown' && first instanceof HTMLButtonElement) {
      e.preventDefault();
      first.focus();
    }
  };
  list.onkeydown = (e) => {
    const buttons = [...list.querySelectorAll('button')];
    const i = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (e.key === 'ArrowDown' && i >= 0 && i < buttons.length - 1) {
      e.preventDefault();
      buttons[i + 1].focus();
    } else if (e.key === 'ArrowUp' && i >= 0) {
      e.preventDefault();
      (i === 0 ? input : buttons[i - 1]).focus();
    }
  };
  render();
  d.showModal();
  input.focus();
}
