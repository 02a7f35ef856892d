// Attachments: uploading a file (`POST /attachments`: raw bytes with their type and `?filename=`),
// downloading it or its thumbnail with the session's token (an `<img src>` cannot send one, so a
// page shows blobs through object URLs), and the message content that links an upload. In
// browsers an upload goes through XMLHttpRequest, which reports upload progress and can be
// aborted; elsewhere (Node) through `fetch`.
//
// The message type follows the stored `contentType` (`attachmentMessageType`, the rule of the
// server's `Attachment::message_type`), and the whole upload answer travels as the content's
// `metadata`, so receivers can show name, size, type and pixel size before downloading anything.

import { ConfabError, errorFromBody } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').Attachment} Attachment */
/** @typedef {import('./types/proto.js').Content} Content */
/** @typedef {import('./types/proto.js').JsonValue} JsonValue */
/** @typedef {import('./types/proto.js').ErrorBody} ErrorBody */

/** @typedef {'image' | 'video' | 'audio' | 'file'} AttachmentType */

/** What can be uploaded: a `File` (its name and type are used), any `Blob`, or bytes. */
/** @typedef {Blob | ArrayBuffer | Uint8Array} UploadData */

/**
 * @typedef {object} UploadOptions
 * @property {string} [filename]  the name to record (default: the `File`'s name; the server says
 *   `file` when there is none)
 * @property {string} [contentType]  the declared type (default: the `Blob`'s, else
 *   `application/octet-stream`); only a hint, the server reads the type from the bytes
 * @property {(sent: number, total: number) => void} [onProgress]  bytes sent so far, of `total`
 * @property {AbortSignal} [signal]  aborting it aborts the upload, which rejects with an `AbortError`
 */

/**
 * A blob shown through an object URL; `release()` revokes the URL (call it when the blob is no
 * longer shown; calling it again does nothing).
 * @typedef {{ url: string, blob: Blob, release: () => void }} ObjectUrl
 */

/**
 * An attachment message's content, read defensively: the metadata is the sender's word, so only
 * fields of the right type are kept (`null` when absent).
 * @typedef {object} AttachmentInfo
 * @property {AttachmentType} type
 * @property {string} attachmentId
 * @property {string} text  the caption ('' when none)
 * @property {string | null} filename
 * @property {string | null} contentType
 * @property {number | null} size  bytes
 * @property {number | null} width  pixels, images only
 * @property {number | null} height
 * @property {boolean} hasThumbnail
 */

const ATTACHMENT_TYPES = /** @type {const} */ (['image', 'video', 'audio', 'file']);

/**
 * The message type for an attachment of this stored content type: `image/*` (but not SVG) is
 * `image`, `video/*` `video`, `audio/*` `audio`, anything else `file`. The same rule as the
 * server's (`Attachment::message_type` in crates/proto).
 * @param {string} contentType
 * @returns {AttachmentType}
 */
export function attachmentMessageType(contentType) {
  const kind = contentType.split('/')[0];
  if (kind === 'image' && contentType !== 'image/svg+xml') return 'image';
  if (kind === 'video') return 'video';
  if (kind === 'audio') return 'audio';
  return 'file';
}

/**
 * The message content linking an upload: its type by `attachmentMessageType`, `text` as the
 * caption (left out when blank), and the upload's answer as `metadata`.
 * @param {Attachment} attachment  what `uploadAttachment` resolved to
 * @param {{ text?: string | null }} [options]
 * @returns {Content}
 */
export function attachmentContent(attachment, { text } = {}) {
  /** @type {{ [key: string]: JsonValue }} */
  const metadata = {
    attachmentId: attachment.attachmentId,
    contentType: attachment.contentType,
    size: attachment.size,
    filename: attachment.filename,
    sha256: attachment.sha256,
    createdAt: attachment.createdAt,
  };
  // As the server writes it: unknown dimensions are left out.
  if (attachment.width != null) metadata.width = attachment.width;
  if (attachment.height != null) metadata.height = attachment.height;
  metadata.hasThumbnail = attachment.hasThumbnail;
  const type = attachmentMessageType(attachment.contentType);
  /** @type {{ attachmentId: string, text?: string, metadata: JsonValue }} */
  const linked = { attachmentId: attachment.attachmentId, metadata };
  if (text && text.trim()) linked.text = text;
  return { type, ...linked };
}

/**
 * What an attachment message shows, read from its content (null for any other content, and for
 * tombstones).
 * @param {Content | null | undefined} content
 * @returns {AttachmentInfo | null}
 */
export function attachmentInfo(content) {
  if (!content || !ATTACHMENT_TYPES.includes(/** @type {AttachmentType} */ (content.type))) return null;
  const c = /** @type {Extract<Content, { attachmentId: string }>} */ (content);
  if (typeof c.attachmentId !== 'string' || !c.attachmentId) return null;
  const meta = c.metadata && typeof c.metadata === 'object' && !Array.isArray(c.metadata) ? c.metadata : {};
  const str = (/** @type {JsonValue | undefined} */ v) => (typeof v === 'string' && v ? v : null);
  const count = (/** @type {JsonValue | undefined} */ v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  return {
    type: /** @type {AttachmentType} */ (c.type),
    attachmentId: c.attachmentId,
    text: typeof c.text === 'string' ? c.text : '',
    filename: str(meta.filename),
    contentType: str(meta.contentType),
    size: count(meta.size),
    width: count(meta.width),
    height: count(meta.height),
    hasThumbnail: meta.hasThumbnail === true,
  };
}

/**
 * `size` bytes for people: "512 B", "1.5 KB", "20 MB" (units of 1024).
 * @param {number} size
 */
export function formatBytes(size) {
  if (!Number.isFinite(size) || size < 0) return '';
  if (size < 1024) return `${size} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value)} ${units[unit]}`;
}

/** The error an aborted upload or download rejects with. */
function abortError() {
  return new DOMException('The transfer was aborted.', 'AbortError');
}

/**
 * A blob behind an object URL, with its release.
 * @param {Blob} blob
 * @returns {ObjectUrl}
 */
export function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  let live = true;
  return {
    url,
    blob,
    release() {
      if (!live) return;
      live = false;
      URL.revokeObjectURL(url);
    },
  };
}

/**
 * The body, its length, and what the upload declares.
 * @param {UploadData} data
 * @param {UploadOptions} options
 */
function uploadParts(data, options) {
  const body = data;
  let size = 0;
  let type = options.contentType || '';
  let filename = options.filename;
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    size = data.size;
    type = type || data.type;
    const name = /** @type {{ name?: unknown }} */ (data).name;
    if (filename === undefined && typeof name === 'string' && name) filename = name;
  } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    size = data.byteLength;
  } else {
    throw new TypeError('uploadAttachment takes a File, a Blob, an ArrayBuffer or a Uint8Array');
  }
  return { body, size, type: type || 'application/octet-stream', filename };
}

/** @param {string} text */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export class Attachments {
  /**
   * @param {object} deps
   * @param {() => string} deps.baseUrl  the server's origin
   * @param {() => string} deps.token  the session's token
   * @param {(error: unknown) => void} [deps.failed]  told of every rejection (the client signs out
   *   on `401` and `403 BANNED`)
   */
  constructor({ baseUrl, token, failed = () => {} }) {
    this.deps = { baseUrl, token, failed };
  }

  /**
   * `POST /attachments`: uploads the bytes; resolves to the stored attachment. Rejects with a
   * `ConfabError` (`PAYLOAD_TOO_LARGE`, status 413, over the server's limit; `NETWORK`; …) or,
   * when `options.signal` aborts it, a `DOMException` named `AbortError`.
   * @param {UploadData} data
   * @param {UploadOptions} [options]
   * @returns {Promise<Attachment>}
   */
  async upload(data, options = {}) {
    const { body, size, type, filename } = uploadParts(data, options);
    const url = new URL('/api/v1/attachments', this.deps.baseUrl());
    if (filename) url.searchParams.set('filename', filename);
    const headers = { Authorization: `Bearer ${this.deps.token()}`, 'Content-Type': type };
    try {
      if (options.signal?.aborted) throw abortError();
      return typeof XMLHttpRequest === 'function'
        ? await xhrUpload(url.toString(), headers, body, size, options)
        : await fetchUpload(url.toString(), headers, body, size, options);
    } catch (err) {
      this.deps.failed(err);
      throw err;
    }
  }

  /**
   * `GET /attachments/{id}`: the bytes (all, or `range`: bytes `start` up to `end`, exclusive, as
   * `Blob.slice` counts). Rejects with `NOT_FOUND` when this user may not read it (or it is gone).
   * @param {string} attachmentId
   * @param {{ range?: { start: number, end?: number }, signal?: AbortSignal }} [options]
   * @returns {Promise<Blob>}
   */
  download(attachmentId, { range, signal } = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (range) headers.Range = `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}`;
    return this.#get(`/attachments/${encodeURIComponent(attachmentId)}`, headers, signal);
  }

  /**
   * `GET /attachments/{id}/thumbnail`: a JPEG at most 320 px on its longer side (images whose
   * upload answered `hasThumbnail: true`; `NOT_FOUND` for others).
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<Blob>}
   */
  thumbnail(attachmentId, { signal } = {}) {
    return this.#get(`/attachments/${encodeURIComponent(attachmentId)}/thumbnail`, {}, signal);
  }

  /**
   * The attachment's bytes behind an object URL, for `<img>`, `<video>`, `<audio>` or a download
   * link; `release()` it when it is no longer shown.
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<ObjectUrl>}
   */
  async url(attachmentId, options = {}) {
    return objectUrl(await this.download(attachmentId, options));
  }

  /**
   * The thumbnail behind an object URL; `release()` it when it is no longer shown.
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<ObjectUrl>}
   */
  async thumbnailUrl(attachmentId, options = {}) {
    return objectUrl(await this.thumbnail(attachmentId, options));
  }

  /**
   * @param {string} path  under `/api/v1`
   * @param {Record<string, string>} headers
   * @param {AbortSignal} [signal]
   * @returns {Promise<Blob>}
   */
  async #get(path, headers, signal) {
    try {
      let response;
      try {
        response = await fetch(new URL('/api/v1' + path, this.deps.baseUrl()), {
          headers: { ...headers, Authorization: `Bearer ${this.deps.token()}` },
          signal,
        });
      } catch {
        if (signal?.aborted) throw abortError();
        throw new ConfabError('NETWORK', 'The server cannot be reached.', { status: 0 });
      }
      if (!response.ok) {
        /** @type {Partial<ErrorBody> | null} */
        const data = await response.json().catch(() => null);
        throw errorFromBody(response.status, data, response.statusText);
      }
      return await response.blob();
    } catch (err) {
      this.deps.failed(err);
      throw err;
    }
  }
}

/**
 * An upload through XMLHttpRequest: progress events, and `signal` aborts it.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {Blob | ArrayBuffer | Uint8Array} body
 * @param {number} size
 * @param {UploadOptions} options
 * @returns {Promise<Attachment>}
 */
function xhrUpload(url, headers, body, size, { onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    const done = () => signal?.removeEventListener('abort', onAbort);
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    // A listener on `upload` must be there before `send` for progress events to fire.
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : size);
    xhr.onload = () => {
      done();
      const data = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        onProgress?.(size, size);
        resolve(data);
      } else {
        reject(errorFromBody(xhr.status, data, xhr.statusText));
      }
    };
    xhr.onerror = () => {
      done();
      reject(new ConfabError('NETWORK', 'The upload did not reach the server.', { status: 0 }));
    };
    xhr.onabort = () => {
      done();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    onProgress?.(0, size);
    xhr.send(/** @type {XMLHttpRequestBodyInit} */ (body));
  });
}

/**
 * An upload through `fetch` (no XMLHttpRequest: Node): progress only at the start and the end.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {Blob | ArrayBuffer | Uint8Array} body
 * @param {number} size
 * @param {UploadOptions} options
 * @returns {Promise<Attachment>}
 */
async function fetchUpload(url, headers, body, size, { onProgress, signal }) {
  onProgress?.(0, size);
  let response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: /** @type {BodyInit} */ (body), signal });
  } catch {
    if (signal?.aborted) throw abortError();
    throw new ConfabError('NETWORK', 'The upload did not reach the server.', { status: 0 });
  }
  const data = parseJson(await response.text().catch(() => ''));
  if (!response.ok || !data) throw errorFromBody(response.status, data, response.statusText);
  onProgress?.(size, size);
  return data;
}
