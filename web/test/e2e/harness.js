// Test harness: a real confab server on a free port with a temp data dir, and headless Chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(WEB_DIR, 'test-artifacts');

export function serverBinary() {
  if (process.env.CONFAB_BIN) return process.env.CONFAB_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'confab-target');
  return join(target, 'debug', 'confab');
}

/** Starts `confab serve` (with `extraArgs`) and resolves once it prints its address. */
export async function startServer({ heartbeatMs = 2000, extraArgs = [] } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin} (build it with cargo build -p confab-cli)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'confab-web-test-'));
  // Every test user registers from 127.0.0.1: lift the per-address registration limit.
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--heartbeat-interval-ms', String(heartbeatMs),
    '--registrations-per-address', '1000', ...extraArgs];
  // CONFAB_TEST_WEB_DIR=1 serves web/ from disk (no rebuild while iterating); by default the
  // embedded files, i.e. exactly what ships, are tested.
  if (process.env.CONFAB_TEST_WEB_DIR) args.push('--web-dir', WEB_DIR);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONFAB_LOG: 'warn' } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 20 s:\n' + stderr)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Headless Chromium from the distribution (never a downloaded build). Playwright gives every launch
 * a fresh temporary user-data-dir of its own (it refuses a --user-data-dir argument), and every
 * browser context in it is a separate, empty profile: one per simulated user or device.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    headless: true,
    timeout: 30000,
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export function artifactsDir() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/** Waits until `fn(arg)` is truthy in the page (polling on animation frames, no fixed sleeps). */
export function until(page, fn, arg, timeout = 15000) {
  return page.waitForFunction(fn, arg, { timeout, polling: 'raf' });
}

/** The messages shown in the open conversation: [{id, senderId, seq, text, own, status}]. */
export function shownMessages(page) {
  return page.$$eval('[data-testid=message]', (els) =>
    els.map((el) => ({
      id: el.dataset.messageId,
      senderId: el.dataset.senderId,
      seq: el.dataset.seq === '' ? null : Number(el.dataset.seq),
      text: el.querySelector('[data-testid=message-text]').textContent,
      own: el.dataset.own === 'true',
      status: el.dataset.status,
    })),
  );
}

/** Waits until a message with this text is shown (and, optionally, has this status). */
export function waitForMessage(page, text, status) {
  return until(
    page,
    ([text, status]) =>
      [...document.querySelectorAll('[data-testid=message]')].some(
        (el) =>
          el.querySelector('[data-testid=message-text]').textContent === text && (!status || el.dataset.status === status),
      ),
    [text, status],
  );
}

/** Registers a user through the sign-up form and waits for the chat to be online. */
export async function register(page, url, username, displayName) {
  await page.goto(url + '/');
  await page.getByTestId('auth-toggle').click();
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-displayname').fill(displayName);
  await page.getByTestId('auth-password').fill('correct horse battery');
  await page.getByTestId('auth-submit').click();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  return page.evaluate(() => ({ userId: window.confab.userId, token: window.confab.token }));
}

/** Starts a direct chat with `username` from the people search; waits until it is open. */
export async function startDirectChat(page, username, displayName) {
  await page.getByTestId('new-chat-btn').click();
  await page.getByTestId('people-search').fill(username.slice(0, 4));
  await page.locator(`[data-testid=people-result][data-username="${username}"]`).click();
  await until(page, (name) => document.getElementById('chat-title').textContent === name, displayName);
}

/** Opens the conversation named `name` from the list. */
export async function openConversation(page, name) {
  await page.locator(`[data-testid=conv-item][data-name="${name}"]`).click();
  await until(page, (name) => document.getElementById('chat-title').textContent === name, name);
}

export async function send(page, text) {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
  await waitForMessage(page, text);
}
