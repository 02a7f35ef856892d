// Attachments in the SDK (sdk-attachments.js): the message type rule (the server's
// `Attachment::message_type`), the content that links an upload and reading it back, sizes for
// people; uploads through XMLHttpRequest (headers, progress, abort, error bodies) and through
// fetch where there is none (Node); downloads with ranges and their errors; object URLs; and the
// client's sendAttachment on the wire.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Attachments,
  ConfabClient,
  ConfabError,
  MemoryStore,
  attachmentContent,
  attachmentInfo,
  attachmentMessageType,
  formatBytes,
} from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

afterEach(() => {
  mock.restoreAll();
  delete globalThis.XMLHttpRequest;
});

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** An upload's answer, as the server gives it. */
const uploaded = (over = {}) => ({
  attachmentId: 'a1',
  contentType: 'image/png',
  size: 2048,
  filename: 'beach.png',
  sha256: 'ab'.repeat(32),
  createdAt: 1700000000000,
  width: 800,
  height: 600,
  hasThumbnail: true,
  ...over,
});

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

test('the message type follows the stored content type, as on the server', () => {
  const cases = {
    'image/png': 'image',
    'image/jpeg': 'image',
    'image/gif': 'image',
    'image/webp': 'image',
    'image/svg+xml': 'file',
    'video/mp4': 'video',
    'video/webm': 'video',
    'audio/ogg': 'audio',
    'audio/mpeg': 'audio',
    'application/pdf': 'file',
    'application/octet-stream': 'file',
    'text/plain; charset=utf-8': 'file',
    '': 'file',
  };
  for (const [type, expected] of Object.entries(cases)) assert.equal(attachmentMessageType(type), expected, type);
});

test('the content linking an upload: its type, the caption, the whole answer as metadata', () => {
  const image = uploaded();
  assert.deepEqual(attachmentContent(image, { text: 'the beach' }), {
    type: 'image',
    attachmentId: 'a1',
    text: 'the beach',
    metadata: image,
  });
  // A blank caption is left out; so are unknown dimensions, as the server writes them.
  const pdf = uploaded({ attachmentId: 'a2', contentType: 'application/pdf', filename: 'r.pdf', width: null, height: undefined, hasThumbnail: false });
  const content = attachmentContent(pdf, { text: '  ' });
  assert.deepEqual(content, {
    type: 'file',
    attachmentId: 'a2',
    metadata: { attachmentId: 'a2', contentType: 'application/pdf', size: 2048, filename: 'r.pdf', sha256: pdf.sha256, createdAt: pdf.createdAt, hasThumbnail: false },
  });
  assert.equal(attachmentContent(uploaded({ contentType: 'video/mp4' })).type, 'video');
  assert.equal(attachmentContent(uploaded({ contentType: 'audio/ogg' })).type, 'audio');
  assert.equal(attachmentContent(uploaded({ contentType: 'image/svg+xml' })).type, 'file');
  // Only the answer's fields travel, however much the object given carries.
  assert.deepEqual(Object.keys(attachmentContent({ ...uploaded(), extra: 'x'.repeat(5000) }).metadata).sort(), Object.keys(uploaded()).sort());
});

test('attachmentInfo reads an attachment message defensively; other content is null', () => {
  assert.deepEqual(attachmentInfo(attachmentContent(uploaded(), { text: 'hi' })), {
    type: 'image',
    attachmentId: 'a1',
    text: 'hi',
    filename: 'beach.png',
    contentType: 'image/png',
    size: 2048,
    width: 800,
    height: 600,
    hasThumbnail: true,
  });
  // The metadata is the sender's word: wrong types are dropped, missing metadata is fine.
  assert.deepEqual(attachmentInfo({ type: 'file', attachmentId: 'x', metadata: { filename: 7, size: '9', hasThumbnail: 'yes', width: -1 } }), {
    type: 'file',
    attachmentId: 'x',
    text: '',
    filename: null,
    contentType: null,
    size: null,
    width: null,
    height: null,
    hasThumbnail: false,
  });
  assert.equal(attachmentInfo({ type: 'video', attachmentId: 'v' })?.type, 'video');
  assert.equal(attachmentInfo({ type: 'text', text: 'hi' }), null);
  assert.equal(attachmentInfo({ type: 'deleted' }), null);
  assert.equal(attachmentInfo({ type: 'image', attachmentId: '' }), null);
  assert.equal(attachmentInfo(null), null);
});

test('sizes for people', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1 KB');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(20 * 1024 * 1024), '20 MB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5 GB');
});

/** An XMLHttpRequest stand-in: records the request, lets the test answer, progress and abort. */
class FakeXhr {
  static last = null;
  constructor() {
    this.headers = {};
    this.upload = { onprogress: null };
    this.status = 0;
    this.statusText = '';
    this.responseText = '';
    this.aborted = false;
    FakeXhr.last = this;
  }
  open(method, url) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded, total) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true });
  }
  answer(status, body) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const attachments = (failed = () => {}) => new Attachments({ baseUrl: () => 'http://test', token: () => 'tok', failed });

test('an upload in a browser: XMLHttpRequest with the type, the name and the token; progress to the end', async () => {
  globalThis.XMLHttpRequest = FakeXhr;
  const progress = [];
  const file = new File([new Uint8Array(2048)], 'my beach.png', { type: 'image/png' });
  const pending = attachments().upload(file, { onProgress: (sent, total) => progress.push([sent, total]) });
  const xhr = FakeXhr.last;
  assert.equal(xhr.method, 'POST');
  assert.equal(xhr.url, 'http://test/api/v1/attachments?filename=my+beach.png');
  assert.deepEqual(xhr.headers, { Authorization: 'Bearer tok', 'Content-Type': 'image/png' });
  assert.equal(xhr.body, file);
  assert.equal(typeof xhr.upload.onprogress, 'function', 'a progress listener is set before sending');
  xhr.progress(1024, 2048);
  xhr.answer(201, uploaded());
  assert.deepEqual(await pending, uploaded());
  assert.deepEqual(progress, [[0, 2048], [1024, 2048], [2048, 2048]]);

  // Bytes: the type and name given, else octet-stream and no name.
  attachments().upload(new Uint8Array([1, 2, 3]));
  assert.equal(FakeXhr.last.url, 'http://test/api/v1/attachments');
  assert.equal(FakeXhr.last.headers['Content-Type'], 'application/octet-stream');
  attachments().upload(new ArrayBuffer(4), { filename: 'x.bin', contentType: 'text/plain' });
  assert.equal(FakeXhr.last.url, 'http://test/api/v1/attachments?filename=x.bin');
  assert.equal(FakeXhr.last.headers['Content-Type'], 'text/plain');
  await assert.rejects(attachments().upload(/** @type {any} */ ('text')), TypeError);
});

test('an upload aborted by its signal rejects with an AbortError; error bodies become ConfabErrors', async () => {
  globalThis.XMLHttpRequest = FakeXhr;
  const controller = new AbortController();
  const told = [];
  const pending = attachments((e) => told.push(e)).upload(new Uint8Array(10), { signal: controller.signal });
  const xhr = FakeXhr.last;
  controller.abort();
  assert.equal(xhr.aborted, true);
  await assert.rejects(pending, (e) => e instanceof DOMException && e.name === 'AbortError');
  assert.equal(told.length, 1);

  // Already aborted: nothing is sent.
  FakeXhr.last = null;
  await assert.rejects(attachments().upload(new Uint8Array(1), { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(FakeXhr.last, null);

  const tooLarge = attachments().upload(new Uint8Array(10));
  FakeXhr.last.answer(413, { error: 'PAYLOAD_TOO_LARGE', message: 'attachments are limited to 5 bytes' });
  await assert.rejects(tooLarge, (e) => e instanceof ConfabError && e.code === 'PAYLOAD_TOO_LARGE' && e.status === 413 && /5 bytes/.test(e.message));

  const lost = attachments().upload(new Uint8Array(10));
  FakeXhr.last.onerror();
  await assert.rejects(lost, (e) => e instanceof ConfabError && e.code === 'NETWORK' && e.status === 0);
});

test('an upload without XMLHttpRequest (Node) goes through fetch', async () => {
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    calls.push({ url: String(url), init });
    return json(uploaded({ contentType: 'application/pdf' }), 201);
  });
  const progress = [];
  const bytes = new Uint8Array(300);
  const a = await attachments().upload(bytes, { filename: 'r.pdf', contentType: 'application/pdf', onProgress: (s, t) => progress.push([s, t]) });
  assert.equal(a.contentType, 'application/pdf');
  assert.equal(calls[0].url, 'http://test/api/v1/attachments?filename=r.pdf');
  assert.equal(calls[0].init.method, 'POST');
  assert.deepEqual(calls[0].init.headers, { Authorization: 'Bearer tok', 'Content-Type': 'application/pdf' });
  assert.equal(calls[0].init.body, bytes);
  assert.deepEqual(progress, [[0, 300], [300, 300]]);

  mock.restoreAll();
  mock.method(globalThis, 'fetch', async () => json({ error: 'UNAUTHORIZED', message: 'bad token' }, 401));
  await assert.rejects(attachments().upload(bytes), { code: 'UNAUTHORIZED', status: 401 });
  mock.restoreAll();
  mock.method(globalThis, 'fetch', async () => {
    throw new TypeError('fetch failed');
  });
  await assert.rejects(attachments().upload(bytes), { code: 'NETWORK' });
});

test('downloads: the token, a range as HTTP counts it, NOT_FOUND for what one may not read; object URLs release once', async () => {
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    calls.push({ url: String(url), headers: init.headers });
    if (String(url).includes('gone')) return json({ error: 'NOT_FOUND', message: 'no such attachment' }, 404);
    return new Response(new Uint8Array([1, 2, 3]), { status: init.headers.Range ? 206 : 200, headers: { 'content-type': 'image/png' } });
  });
  const whole = await attachments().download('a/1');
  assert.equal(whole.size, 3);
  assert.equal(whole.type, 'image/png');
  assert.deepEqual(calls[0], { url: 'http://test/api/v1/attachments/a%2F1', headers: { Authorization: 'Bearer tok' } });
  await attachments().download('a1', { range: { start: 10, end: 20 } });
  assert.equal(calls[1].headers.Range, 'bytes=10-19');
  await attachments().download('a1', { range: { start: 5 } });
  assert.equal(calls[2].headers.Range, 'bytes=5-');
  await attachments().thumbnail('a1');
  assert.equal(calls[3].url, 'http://test/api/v1/attachments/a1/thumbnail');
  await assert.rejects(attachments().download('gone'), (e) => e instanceof ConfabError && e.code === 'NOT_FOUND' && e.status === 404);

  const revoked = [];
  mock.method(URL, 'revokeObjectURL', (u) => revoked.push(u));
  const shown = await attachments().thumbnailUrl('a1');
  assert.match(shown.url, /^blob:/);
  assert.equal(shown.blob.size, 3);
  shown.release();
  shown.release();
  assert.deepEqual(revoked, [shown.url]);
});

test('the client sends an upload as a message (caption, reply) and signs out when an upload is refused with 401', async () => {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const conversation = { conversationId: 'c1', type: 'direct', name: null, participants: [{ userId: 'me', role: 'member' }, { userId: 'bob', role: 'member' }], lastSequence: 0, lastReadSequence: 0, createdAt: 1 };
  let uploadAnswer = () => json(uploaded(), 201);
  mock.method(globalThis, 'fetch', async (url) => {
    const path = new URL(url).pathname;
    if (path === '/api/v1/attachments') return uploadAnswer();
    if (path === '/api/v1/conversations') return json({ conversations: [conversation] });
    return json({ userId: path.split('/').pop(), username: 'x', displayName: 'X' });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const client = new ConfabClient({ session, deviceId: 'dev1', store: new MemoryStore() });
  const signedOut = [];
  client.addEventListener('signedout', (e) => signedOut.push(e.detail.reason));
  await client.start();
  const ws = FakeWebSocket.all[0];
  ws.receive({ type: 'connected', payload: { connectionId: 'k', userId: 'me', deviceId: 'dev1', serverTime: Date.now(), heartbeatInterval: 30000, resumeToken: '' } });
  await settle();

  const attachment = await client.uploadAttachment(new Uint8Array(5), { filename: 'beach.png' });
  const m = client.sendAttachment('c1', attachment, { text: 'look', replyTo: 'b1' });
  assert.equal(m.status, 'pending');
  assert.deepEqual(m.content, { type: 'image', attachmentId: 'a1', text: 'look', metadata: uploaded() });
  const [send] = ws.frames('message.send');
  assert.deepEqual(send.payload, { messageId: m.messageId, conversationId: 'c1', content: m.content, replyTo: 'b1' });
  assert.equal(client.messages('c1').at(-1)?.messageId, m.messageId);

  uploadAnswer = () => json({ error: 'UNAUTHORIZED', message: 'token expired' }, 401);
  await assert.rejects(client.uploadAttachment(new Uint8Array(5)), { code: 'UNAUTHORIZED' });
  assert.deepEqual(signedOut, ['unauthorized']);
  client.stop();
});
