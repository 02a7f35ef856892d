// End-to-end: attachments in the web client against a real server. An image sent with the attach
// button and a caption reaches the other user as a thumbnail fetched with the token (a blob URL)
// that opens the full image in a lightbox; a file dropped on the conversation shows as a card with
// its name and size and downloads; audio pasted into the composer plays in the browser's player;
// captions are edited; a deleted message shows no attachment and an attachment the server no
// longer gives shows as unavailable. An upload in progress is cancelled and nothing is sent; an
// upload over the server's limit says so and nothing is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, openConversation, send, waitForMessage } from './harness.js';

const T = 120000;
let server;
let chrome;
const contexts = [];
const pageErrors = [];
const scratch = mkdtempSync(join(tmpdir(), 'confab-attachments-'));

async function newUser(srv, name, displayName) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  context.setDefaultTimeout(15000);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  const username = `${name}_${Date.now().toString(36)}`;
  const ids = await register(page, srv.url, username, displayName);
  return { context, page, username, displayName, ...ids };
}

// ---- files made here ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** @param {Buffer} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG of `width` × `height` pixels (an RGB gradient). */
function png(width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set([(x * 255) / width, (y * 255) / height, 160], y * (width * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A WAV file: `seconds` of a 440 Hz tone, 8 kHz mono 16-bit. */
function wav(seconds) {
  const rate = 8000;
  const samples = rate * seconds;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return b;
}

// ---- helpers ----

/** Picks files with the composer's attach button (the browser's file chooser). */
async function attach(page, files) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByTestId('attach-btn').click()]);
  await chooser.setFiles(files);
}

/**
 * Hands files to the page as a drop on the conversation, or a paste into the composer (the
 * events a browser fires, with a DataTransfer holding the files).
 * @param {'drop' | 'paste'} how
 */
function giveFiles(page, how, files) {
  return page.evaluate(
    ([how, files]) => {
      const dt = new DataTransfer();
      for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
      if (how === 'paste') {
        document.getElementById('composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      } else {
        const target = document.getElementById('message-scroll');
        for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    },
    [how, files.map((f) => ({ name: f.name, type: f.type, base64: f.buffer.toString('base64') }))],
  );
}

/** The list item of the (last) message whose attachment is of this kind. */
function withAttachment(page, kind) {
  return page.locator('[data-testid=message]', { has: page.locator(`[data-testid=attachment][data-kind=${kind}]`) }).last();
}

/** The messages of a conversation as the server has them. */
async function serverMessages(srv, user, conversationId) {
  const res = await fetch(`${srv.url}/api/v1/conversations/${encodeURIComponent(conversationId)}/messages?limit=50`, {
    headers: { authorization: `Bearer ${user.token}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()).messages;
}

const openConversationId = (page) => page.evaluate(() => decodeURIComponent(location.hash.slice(1)));

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('an image with a caption, a dropped file, pasted audio: shown to the other user, lightbox, download, edits and deletes', { timeout: T }, async () => {
  const alice = await newUser(server, 'alice', 'Alice Liddell');
  const bob = await newUser(server, 'bob', 'Bob Marley');
  await startDirectChat(alice.page, bob.username, bob.displayName);
  await send(alice.page, 'photos coming');
  await openConversation(bob.page, alice.displayName);
  await waitForMessage(bob.page, 'photos coming');

  // Alice types a caption and picks an image with the attach button.
  const image = png(640, 480);
  await alice.page.getByTestId('composer-input').fill('the beach');
  await attach(alice.page, { name: 'beach.png', mimeType: 'image/png', buffer: image });
  const mine = withAttachment(alice.page, 'image');
  await mine.locator('[data-testid=attachment][data-state=ready]').waitFor();
  assert.equal(await mine.getByTestId('message-text').textContent(), 'the beach');
  assert.equal(await alice.page.getByTestId('composer-input').inputValue(), '', 'the caption left the composer');
  await until(alice.page, () => document.querySelector('[data-testid=upload-list]').hidden);
  await until(alice.page, () => ['delivered', 'read'].includes([...document.querySelectorAll('[data-testid=message][data-own=true]')].at(-1)?.dataset.status));

  // Bob sees the thumbnail (fetched with his token, shown from a blob URL) with the caption.
  const theirs = withAttachment(bob.page, 'image');
  await theirs.locator('[data-testid=attachment][data-state=ready]').waitFor();
  const thumb = await theirs.getByTestId('attachment-thumb').evaluate((img) => ({
    src: img.src,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
    shownWidth: img.getBoundingClientRect().width,
  }));
  assert.match(thumb.src, /^blob:/);
  assert.deepEqual([thumb.naturalWidth, thumb.naturalHeight], [320, 240], 'the 320 px thumbnail, not the 640 px image');
  assert.ok(thumb.shownWidth > 100, `shown ${thumb.shownWidth} px wide`);
  assert.equal(await theirs.getByTestId('message-text').textContent(), 'the beach');
  assert.equal(
    await bob.page.locator(`[data-testid=conv-item][data-name="${alice.displayName}"] .conv-last`).textContent(),
    '📷 the beach',
  );

  // The lightbox shows the full image; Escape closes it, and so does a click.
  await theirs.getByTestId('attachment-open').click();
  const lightbox = bob.page.getByTestId('lightbox');
  await bob.page.locator('[data-testid=lightbox][data-state=ready]').waitFor();
  const full = await bob.page.getByTestId('lightbox-image').evaluate((img) => ({ src: img.src, w: img.naturalWidth, h: img.naturalHeight }));
  assert.match(full.src, /^blob:/);
  assert.deepEqual([full.w, full.h], [640, 480]);
  await bob.page.screenshot({ path: join(artifactsDir(), 'attachments-lightbox.png') });
  await bob.page.keyboard.press('Escape');
  await until(bob.page, () => !document.getElementById('lightbox').open);
  assert.equal(await bob.page.getByTestId('chat-title').textContent(), alice.displayName, 'Escape closed only the lightbox');
  await theirs.getByTestId('attachment-open').click();
  await bob.page.locator('[data-testid=lightbox][data-state=ready]').waitFor();
  await lightbox.click();
  await until(bob.page, () => !document.getElementById('lightbox').open);
  // Its blob URL was revoked: the image element let go of it.
  assert.equal(await bob.page.getByTestId('lightbox-image').getAttribute('src'), null);

  // A file dropped on the conversation: a card with its name and size, and a download.
  const report = Buffer.from('quarterly numbers\n'.repeat(142)); // 2556 bytes
  await giveFiles(alice.page, 'drop', [{ name: 'report.txt', type: 'text/plain', buffer: report }]);
  const card = withAttachment(bob.page, 'file');
  await card.waitFor();
  assert.equal(await card.getByTestId('attachment-name').textContent(), 'report.txt');
  assert.equal(await card.getByTestId('attachment-size').textContent(), '2.5 KB');
  const [download] = await Promise.all([bob.page.waitForEvent('download'), card.getByTestId('attachment-download').click()]);
  assert.equal(download.suggestedFilename(), 'report.txt');
  assert.deepEqual(readFileSync(await download.path()), report);

  // Audio pasted into the composer: the browser's player, fed from a blob, knows its length.
  await giveFiles(alice.page, 'paste', [{ name: 'tone.wav', type: 'audio/wav', buffer: wav(2) }]);
  const audio = withAttachment(bob.page, 'audio');
  await audio.locator('[data-testid=attachment][data-state=ready]').waitFor();
  await until(bob.page, () => {
    const players = document.querySelectorAll('audio[data-testid=attachment-audio]');
    const a = players[players.length - 1];
    return a && a.src.startsWith('blob:') && Math.abs(a.duration - 2) < 0.1;
  });
  await bob.page.screenshot({ path: join(artifactsDir(), 'attachments-chat.png') });

  // Alice edits the image's caption: the image stays, the caption changes on both sides.
  await mine.getByTestId('message-edit').click();
  assert.equal(await alice.page.getByTestId('composer-input').inputValue(), 'the beach', 'the caption, not a label, is edited');
  await alice.page.getByTestId('composer-input').fill('the beach at noon');
  await alice.page.getByTestId('composer-input').press('Enter');
  await until(bob.page, () => [...document.querySelectorAll('[data-testid=message]')].some((li) => li.querySelector('[data-testid=attachment][data-kind=image]') && li.querySelector('[data-testid=message-text]').textContent === 'the beach at noon'));
  assert.equal(await theirs.getByTestId('message-edited').count(), 1);

  // An attachment the server no longer gives this user shows as unavailable, quietly.
  const conversationId = await openConversationId(bob.page);
  const [, fileMessage] = (await serverMessages(server, bob, conversationId)).filter((m) => m.content.type !== 'text');
  const gone = fileMessage.content.attachmentId;
  await bob.page.route(`**/api/v1/attachments/${await theirs.locator('[data-testid=attachment]').getAttribute('data-attachment-id')}/thumbnail`, (route) =>
    route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"NOT_FOUND","message":"no such attachment"}' }),
  );
  await bob.page.reload();
  await bob.page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  const unavailable = withAttachment(bob.page, 'image').locator('[data-testid=attachment][data-state=unavailable]');
  await unavailable.waitFor();
  assert.equal(await unavailable.textContent(), 'Attachment unavailable (beach.png)');
  assert.equal(await withAttachment(bob.page, 'image').getByTestId('message-text').textContent(), 'the beach at noon', 'the message is still shown');
  await bob.page.unrouteAll();

  // Alice deletes the file message: the tombstone shows no attachment, and the file is gone.
  const fileItem = withAttachment(alice.page, 'file');
  await fileItem.getByTestId('message-delete').click();
  await alice.page.getByTestId('delete-confirm').click();
  const tombstone = bob.page.locator(`[data-testid=message][data-message-id="${fileMessage.messageId}"]`);
  await tombstone.locator('[data-testid=message-text]', { hasText: 'This message was deleted' }).waitFor();
  assert.equal(await tombstone.getByTestId('attachment').count(), 0);
  assert.equal(await bob.page.locator('[data-testid=attachment][data-kind=file]').count(), 0);
  const res = await fetch(`${server.url}/api/v1/attachments/${gone}`, { headers: { authorization: `Bearer ${bob.token}` } });
  assert.equal(res.status, 404, 'no longer linked where Bob is');
  assert.deepEqual(pageErrors, []);
});

test('cancelling an upload in progress sends nothing', { timeout: T }, async () => {
  const carol = await newUser(server, 'carol', 'Carol King');
  const dave = await newUser(server, 'dave', 'Dave Brubeck');
  await startDirectChat(carol.page, dave.username, dave.displayName);
  await send(carol.page, 'a big one');
  const conversationId = await openConversationId(carol.page);
  // 20 MiB through a 2 MiB/s uplink: ten seconds, time enough to cancel.
  const big = join(scratch, 'big.bin');
  writeFileSync(big, Buffer.alloc(20 * 1024 * 1024, 7));
  const cdp = await carol.context.newCDPSession(carol.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });

  await carol.page.getByTestId('composer-input').fill('keep this text');
  await attach(carol.page, big);
  const upload = carol.page.locator('[data-testid=upload-item][data-name="big.bin"]');
  await upload.waitFor();
  assert.equal(await upload.getByTestId('upload-name').textContent(), 'big.bin');
  await until(carol.page, () => Number(document.querySelector('[data-testid=upload-item]')?.dataset.sent) > 0);
  const percent = await upload.getByTestId('upload-percent').textContent();
  assert.match(percent, /^\d+%$/);
  assert.ok(parseInt(percent, 10) < 100, `still uploading (${percent})`);
  await carol.page.screenshot({ path: join(artifactsDir(), 'attachments-upload.png') });
  await upload.getByTestId('upload-cancel').click();
  await upload.waitFor({ state: 'detached' });
  assert.equal(await carol.page.getByTestId('upload-list').isHidden(), true);
  assert.equal(await carol.page.getByTestId('composer-input').inputValue(), 'keep this text', 'the caption is given back');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  // Nothing was sent: a message after it is the next one, on the server and on screen.
  await send(carol.page, 'after the cancel');
  const texts = (await serverMessages(server, carol, conversationId)).map((m) => m.content.type + ':' + (m.content.text ?? ''));
  assert.deepEqual(texts, ['text:a big one', 'text:after the cancel']);
  assert.equal(await carol.page.getByTestId('attachment').count(), 0);
  assert.deepEqual(pageErrors, []);
});

test('an upload over the server limit says so and sends nothing', { timeout: T }, async () => {
  const small = await startServer({ extraArgs: ['--max-attachment-bytes', '4096'] });
  try {
    const erin = await newUser(small, 'erin', 'Erin Brockovich');
    const frank = await newUser(small, 'frank', 'Frank Zappa');
    await startDirectChat(erin.page, frank.username, frank.displayName);
    await send(erin.page, 'too big?');
    const conversationId = await openConversationId(erin.page);
    await erin.page.getByTestId('composer-input').fill('the caption');
    await attach(erin.page, { name: 'large.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(6000, 1) });
    const upload = erin.page.locator('[data-testid=upload-item][data-name="large.bin"][data-state=error]');
    await upload.waitFor();
    assert.equal(await upload.getByTestId('upload-error').textContent(), '“large.bin” is too large to send: the limit is 4 KB.');
    assert.equal(await erin.page.getByTestId('composer-input').inputValue(), 'the caption', 'the caption is given back');
    await upload.getByTestId('upload-dismiss').click();
    await upload.waitFor({ state: 'detached' });
    // One under the limit goes.
    await attach(erin.page, { name: 'small.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3000, 1) });
    await withAttachment(erin.page, 'file').waitFor();
    // Shown at once; on the server once acknowledged (it then has its sequence number).
    await until(erin.page, () => {
      const files = [...document.querySelectorAll('[data-testid=message]')]
        .filter((li) => li.querySelector('[data-testid=attachment][data-kind=file]'));
      return files.length > 0 && files[files.length - 1].dataset.seq !== '';
    });
    const types = (await serverMessages(small, erin, conversationId)).map((m) => m.content.type);
    assert.deepEqual(types, ['text', 'file']);
    assert.equal(await withAttachment(erin.page, 'file').getByTestId('message-text').textContent(), 'the caption');
    assert.deepEqual(pageErrors, []);
  } finally {
    await small.stop();
  }
});
