// Accessibility, checked by axe-core in the real page: no serious or critical violation on the
// sign-in and sign-up screens, the chat view with a conversation open, and each dialog, at desktop
// and phone widths. axe is evaluated through the DevTools protocol (the page's CSP allows no
// injected script tags).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, WEB_DIR, until, register, startDirectChat, send } from './harness.js';

const T = 120000;
const AXE = readFileSync(join(WEB_DIR, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
let server;
let chrome;
const contexts = [];
const stamp = Date.now().toString(36);

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
});

/** Serious and critical axe violations in the page as it is now, one line each. */
async function violations(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    // @ts-ignore axe is the injected axe-core
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.join(', ')}`);
}

async function check(page, where) {
  assert.deepEqual(await violations(page), [], `axe: ${where}`);
}

async function openDialog(page, button, dialog, where) {
  await page.getByTestId(button).click();
  await page.getByTestId(dialog).waitFor({ state: 'visible' });
  await check(page, where);
  await page.keyboard.press('Escape');
  await page.getByTestId(dialog).waitFor({ state: 'hidden' });
}

let peer;
for (const [width, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
  test(`${width}: sign-in, chat view and dialogs have no serious accessibility violations`, { timeout: T }, async () => {
    const context = await chrome.browser.newContext({ viewport });
    context.setDefaultTimeout(15000);
    contexts.push(context);
    const page = await context.newPage();
    if (!peer) {
      // Someone to talk to, and a group with them.
      const peerPage = await (await chrome.browser.newContext()).newPage();
      contexts.push(peerPage.context());
      peer = { username: `axepeer_${stamp}`, displayName: 'Axe Peer' };
      await register(peerPage, server.url, peer.username, peer.displayName);
    }
    await page.goto(server.url + '/');
    await page.getByTestId('auth-form').waitFor();
    await check(page, `${width} sign in`);
    await page.getByTestId('auth-toggle').click();
    await check(page, `${width} register`);
    await page.getByTestId('auth-submit').click(); // an empty form shows its error
    await page.getByTestId('auth-error').waitFor({ state: 'visible' });
    await check(page, `${width} register with an error`);

    await register(page, server.url, `axe_${width}_${stamp}`, `Axe ${width}`);
    await check(page, `${width} empty conversation list`);
    await startDirectChat(page, peer.username, peer.displayName);
    await send(page, 'hello https://example.org');
    await check(page, `${width} chat view`);
    await openDialog(page, 'block-btn', 'confirm-dialog', `${width} block confirmation`);
    await openDialog(page, 'mute-btn', 'mute-dialog', `${width} mute dialog`);
    if (width === 'phone') {
      await page.getByTestId('back-btn').click();
      await check(page, `${width} conversation list`);
    }
    await openDialog(page, 'settings-btn', 'settings-dialog', `${width} settings dialog`);
    await openDialog(page, 'new-chat-btn', 'people-dialog', `${width} new chat dialog`);
    await page.getByTestId('new-group-btn').click();
    await page.getByTestId('group-name').fill('Axe group');
    await page.getByTestId('people-search').fill(peer.username.slice(0, 6));
    await page.locator(`[data-testid=people-result][data-username="${peer.username}"]`).click();
    await check(page, `${width} new group dialog with a result`);
    await page.getByTestId('people-confirm').click();
    await until(page, () => document.getElementById('chat-title').textContent === 'Axe group');
    await check(page, `${width} group chat view`);
    await openDialog(page, 'group-settings-btn', 'group-dialog', `${width} group settings dialog`);
    await page.keyboard.press('Control+k');
    await page.getByTestId('jump-dialog').waitFor({ state: 'visible' });
    await page.keyboard.type('a');
    await check(page, `${width} quick jump dialog`);
    await page.keyboard.press('Escape');
  });
}

test('every input has a label and every button an accessible name', { timeout: T }, async () => {
  const context = await chrome.browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByTestId('auth-form').waitFor();
  // The chat screen's template and the auth screen, as markup: every control is named.
  const unnamed = await page.evaluate(() => {
    const root = document.createElement('div');
    for (const id of ['tpl-auth', 'tpl-chat']) root.append(document.getElementById(id).content.cloneNode(true));
    document.body.append(root);
    root.style.cssText = 'position:absolute;left:-9999px';
    const out = [];
    for (const el of root.querySelectorAll('input, textarea, select')) {
      if (el.type === 'hidden' || el.hidden) continue;
      if (!el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push(el.id || el.outerHTML);
    }
    for (const el of root.querySelectorAll('button')) {
      if (!el.textContent.trim() && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push(el.id || el.outerHTML);
    }
    root.remove();
    return out;
  });
  assert.deepEqual(unnamed, []);
});

test('focus order on the sign-up form follows the form', { timeout: T }, async () => {
  const context = await chrome.browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByTestId('auth-toggle').click();
  await page.getByTestId('auth-username').focus();
  const order = [await page.evaluate(() => document.activeElement.id)];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  assert.deepEqual(order, ['auth-username', 'auth-displayname', 'auth-password', 'auth-submit', 'auth-toggle']);
});
