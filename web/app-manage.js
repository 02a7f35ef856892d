// Confab web client: blocking people and managing groups, on top of the SDK. The main app
// (app.js) calls in here to wire and render these controls:
//
//   header        "Block" / "Unblock" in a direct conversation (each asks for confirmation) and
//                 "Group settings" in a group
//   composer      why sending is impossible (you blocked this person) or was refused (the server's
//                 reason), above the message box
//   group dialog  rename, settings, members with their roles, promote / demote (admins), leave
//   settings      the "Blocked users" list, each with "Unblock"

/** @typedef {import('./sdk/sdk-client.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/sdk-client.js').ClientEvents} ClientEvents */
/** @typedef {import('./sdk/sdk-conversations.js').LocalConversation} LocalConversation */

/**
 * What the main app shares: the signed-in client, and the open conversation's id.
 * @typedef {{ client: () => ConfabClient, current: () => string | null }} Manage
 */

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

/** A server message as a sentence. @param {string} text */
function sentence(text) {
  const t = text.trim();
  if (!t) return t;
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** @param {unknown} ex */
function reasonOf(ex) {
  return sentence(ex instanceof Error ? ex.message : String(ex));
}

/** @type {{ conversationId: string, text: string } | null} the last refused send, shown in the composer */
let refusal = null;
/** @type {string | null} the conversation the group dialog shows */
let groupShown = null;
/** The group dialog's name and settings fields were edited and not saved: live updates leave them. */
let groupDirty = false;

/**
 * Asks before doing something: resolves to true when the user confirms.
 * @param {{ title: string, text: string, ok: string }} what
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, text, ok }) {
  const dialog = byId('confirm-dialog', HTMLDialogElement);
  byId('confirm-title').textContent = title;
  byId('confirm-text').textContent = text;
  byId('confirm-ok').textContent = ok;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    byId('confirm-ok').onclick = () => dialog.close('ok');
    byId('confirm-cancel').onclick = () => dialog.close('cancel');
    dialog.onclose = () => {
      dialog.onclose = null;
      resolve(dialog.returnValue === 'ok');
    };
    dialog.showModal();
    byId('confirm-cancel').focus();
  });
}

/** Wires the header buttons and the group dialog (once per chat screen). @param {Manage} m */
export function bindManage(m) {
  byId('block-btn').addEventListener('click', () => toggleBlock(m));
  byId('group-settings-btn').addEventListener('click', () => {
    const id = m.current();
    if (id) openGroupDialog(m, id);
  });
  byId('group-close').addEventListener('click', () => byId('group-dialog', HTMLDialogElement).close());
  byId('group-dialog').addEventListener('close', () => {
    groupShown = null;
  });
}

/** Blocks or unblocks the other person of the open direct conversation, after confirmation. @param {Manage} m */
async function toggleBlock(m) {
  const client = m.client();
  const id = m.current();
  const peer = id ? client.peerId(id) : null;
  if (!peer) return;
  const name = client.userName(peer);
  const blocked = client.blocks.isBlocked(peer);
  const ok = await confirmAction(
    blocked
      ? { title: `Unblock ${name}?`, text: `You and ${name} will be able to message each other again.`, ok: 'Unblock' }
      : {
          title: `Block ${name}?`,
          text: `Neither of you will be able to send messages here, ${name} won't be able to start a chat with you, and you won't see each other's online status. Groups you share are not affected.`,
          ok: 'Block',
        },
  );
  if (!ok) return;
  try {
    if (blocked) await client.blocks.unblock(peer);
    else await client.blocks.block(peer);
  } catch (ex) {
    refusal = id ? { conversationId: id, text: reasonOf(ex) } : null;
    renderManage(m);
  }
}

/**
 * The header buttons and the composer's notice for the open conversation; the group dialog too,
 * when it shows this conversation. Called whenever the header is.
 * @param {Manage} m
 */
export function renderManage(m) {
  const client = m.client();
  const id = m.current();
  const c = id ? client.conversations.get(id) : undefined;
  const blockBtn = byId('block-btn');
  const groupBtn = byId('group-settings-btn');
  const peer = id ? client.peerId(id) : null;
  const iBlock = !!peer && client.blocks.isBlocked(peer);
  blockBtn.hidden = !peer;
  if (peer) {
    blockBtn.textContent = iBlock ? 'Unblock' : 'Block';
    blockBtn.dataset.blocked = String(iBlock);
    blockBtn.setAttribute('aria-label', `${iBlock ? 'Unblock' : 'Block'} ${client.userName(peer)}`);
  }
  groupBtn.hidden = c?.type !== 'group';

  const notice = byId('composer-notice');
  const input = byId('composer-input', HTMLTextAreaElement);
  const sendBtn = byId('composer-send', HTMLButtonElement);
  input.disabled = iBlock;
  sendBtn.disabled = iBlock;
  if (iBlock && peer) {
    notice.replaceChildren(`You blocked ${client.userName(peer)}. Unblock them to send messages. `);
    const unblock = document.createElement('button');
    unblock.type = 'button';
    unblock.className = 'link';
    unblock.textContent = 'Unblock';
    unblock.dataset.testid = 'composer-unblock';
    unblock.addEventListener('click', () => toggleBlock(m));
    notice.append(unblock);
  } else if (refusal && refusal.conversationId === id) {
    notice.textContent = refusal.text;
  } else {
    notice.replaceChildren();
  }
  notice.hidden = !notice.textContent;
  if (groupShown && groupShown === id) renderGroupDialog(m, groupShown);
}

/**
 * A send failed: when the server refused it (`FORBIDDEN`: a block, or a group where only admins
 * post), its reason shows above the composer of that conversation until a send there succeeds.
 * @param {Manage} m
 * @param {ClientEvents['message.status']} detail
 */
export function sendStatus(m, detail) {
  if (detail.status === 'failed' && detail.error === 'FORBIDDEN') {
    refusal = { conversationId: detail.conversationId, text: sentence(detail.reason || 'You cannot send messages here') };
  } else if (detail.status !== 'failed' && refusal?.conversationId === detail.conversationId) {
    refusal = null;
  } else {
    return;
  }
  if (detail.conversationId === m.current()) renderManage(m);
}

/** The list of blocked users changed: an earlier refusal may no longer hold. @param {Manage} m */
export function blocksChanged(m) {
  refusal = null;
  renderBlockedUsers(m);
}

/** The "Blocked users" list of the settings dialog (when it is on screen). @param {Manage} m */
export function renderBlockedUsers(m) {
  const list = document.getElementById('blocked-list');
  if (!list) return;
  const client = m.client();
  const blocks = client.blocks.list;
  byId('blocked-empty').textContent = blocks === null ? 'Loading…' : blocks.length ? '' : "You haven't blocked anyone.";
  list.replaceChildren(
    ...(blocks || []).map((b) => {
      const li = document.createElement('li');
      li.dataset.testid = 'blocked-user';
      li.dataset.userId = b.user.userId;
      const name = document.createElement('span');
      name.className = 'who';
      const strong = document.createElement('strong');
      strong.textContent = b.user.displayName || b.user.username;
      const sub = document.createElement('span');
      sub.className = 'sub';
      sub.textContent = ' @' + b.user.username;
      name.append(strong, sub);
      const unblock = document.createElement('button');
      unblock.type = 'button';
      unblock.textContent = 'Unblock';
      unblock.dataset.testid = 'unblock-btn';
      unblock.setAttribute('aria-label', `Unblock ${b.user.displayName || b.user.username}`);
      unblock.addEventListener('click', async () => {
        unblock.disabled = true;
        byId('blocks-error').hidden = true;
        try {
          await client.blocks.unblock(b.user.userId);
        } catch (ex) {
          byId('blocks-error').textContent = reasonOf(ex);
          byId('blocks-error').hidden = false;
          unblock.disabled = false;
        }
      });
      li.append(name, unblock);
      return li;
    }),
  );
}

/** Loads the blocked users into the settings dialog. @param {Manage} m */
export function showBlockedUsers(m) {
  byId('blocks-error').hidden = true;
  renderBlockedUsers(m);
  m.client()
    .blocks.refresh()
    .catch((ex) => {
      byId('blocks-error').textContent = reasonOf(ex);
      byId('blocks-error').hidden = false;
    });
}

// ---- group dialog ----

/**
 * @param {Manage} m
 * @param {string} id
 */
function openGroupDialog(m, id) {
  const client = m.client();
  const dialog = byId('group-dialog', HTMLDialogElement);
  groupShown = id;
  groupDirty = false;
  byId('group-error').hidden = true;
  byId('group-status').textContent = '';
  const nameInput = byId('group-rename', HTMLInputElement);
  const onlyAdmins = byId('group-only-admins', HTMLInputElement);
  const invites = byId('group-member-invites', HTMLInputElement);
  const retention = byId('group-retention', HTMLInputElement);
  for (const field of [nameInput, onlyAdmins, invites, retention]) field.oninput = () => (groupDirty = true);
  byId('group-form').onsubmit = async (e) => {
    e.preventDefault();
    const c = client.conversations.get(id);
    if (!c) return;
    /** @type {{ name?: string, settings?: Record<string, boolean | number> }} */
    const changes = {};
    if (nameInput.value.trim() !== (c.name || '')) changes.name = nameInput.value;
    /** @type {Record<string, boolean | number>} */
    const settings = {};
    if (onlyAdmins.checked !== !!c.settings?.onlyAdminsCanPost) settings.onlyAdminsCanPost = onlyAdmins.checked;
    if (invites.checked !== !!c.settings?.allowMemberInvites) settings.allowMemberInvites = invites.checked;
    const days = retention.valueAsNumber;
    if (Number.isFinite(days) && days !== (c.settings?.retentionDays || 0)) settings.retentionDays = days;
    if (Object.keys(settings).length) changes.settings = settings;
    if (!changes.name && !changes.settings) {
      byId('group-status').textContent = 'Nothing to save.';
      return;
    }
    await act(async () => {
      await client.updateGroup(id, changes);
      groupDirty = false;
      byId('group-status').textContent = 'Saved.';
      renderGroupDialog(m, id);
    });
  };
  byId('group-leave').onclick = async () => {
    const ok = await confirmAction({
      title: `Leave ${client.conversationName(id)}?`,
      text: 'You will no longer get its messages. An admin can add you again.',
      ok: 'Leave',
    });
    if (!ok) return;
    await act(async () => {
      await client.leave(id);
      dialog.close();
    });
  };
  renderGroupDialog(m, id);
  dialog.showModal();
}

/** Runs a change from the group dialog, showing the server's reason when it is refused. @param {() => Promise<void>} fn */
async function act(fn) {
  byId('group-error').hidden = true;
  byId('group-status').textContent = '';
  try {
    await fn();
  } catch (ex) {
    byId('group-error').textContent = reasonOf(ex);
    byId('group-error').hidden = false;
  }
}

/**
 * Fills the group dialog from the conversation as this client holds it (live: `conversation.updated`
 * re-renders it; fields being edited are left alone).
 * @param {Manage} m
 * @param {string} id
 */
function renderGroupDialog(m, id) {
  const client = m.client();
  const c = client.conversations.get(id);
  if (!c) return;
  const me = c.participants.find((p) => p.userId === client.userId);
  const isAdmin = me?.role === 'admin';
  byId('group-title').textContent = c.name || 'Group';
  const nameInput = byId('group-rename', HTMLInputElement);
  const onlyAdmins = byId('group-only-admins', HTMLInputElement);
  const invites = byId('group-member-invites', HTMLInputElement);
  const retention = byId('group-retention', HTMLInputElement);
  if (!groupDirty) {
    nameInput.value = c.name || '';
    onlyAdmins.checked = !!c.settings?.onlyAdminsCanPost;
    invites.checked = !!c.settings?.allowMemberInvites;
    retention.value = String(c.settings?.retentionDays || 0);
  }
  for (const field of [nameInput, onlyAdmins, invites, retention]) field.disabled = !isAdmin;
  byId('group-save').hidden = !isAdmin;
  byId('group-admin-hint').hidden = isAdmin;
  byId('group-members-heading').textContent = `Members (${c.memberCount})`;
  byId('group-members').replaceChildren(
    ...c.participants.map((p) => {
      const li = document.createElement('li');
      li.dataset.testid = 'group-member';
      li.dataset.userId = p.userId;
      li.dataset.role = p.role;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = p.userId === client.userId ? 'You' : client.userName(p.userId);
      li.append(who);
      if (p.role === 'admin') {
        const badge = document.createElement('span');
        badge.className = 'role';
        badge.textContent = 'Admin';
        li.append(badge);
      }
      if (isAdmin) {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.testid = 'role-btn';
        const promote = p.role !== 'admin';
        b.textContent = promote ? 'Make admin' : p.userId === client.userId ? 'Step down' : 'Remove admin';
        b.addEventListener('click', () => act(() => client.setRole(id, p.userId, promote ? 'admin' : 'member').then(() => {})));
        li.append(b);
      }
      return li;
    }),
  );
}
