// Attachments in the web client: sending files (the composer's attach button, dropping files on
// the conversation, pasting them), each upload shown with its progress and a Cancel button until
// its message is sent; and showing them in messages: images as their thumbnail, opening the full
// image in a lightbox; video and audio in the browser's players; any other file as a card with its
// name, size and a Download button. Attachments are fetched with the session's token and shown
// through object URLs, which are revoked once their message leaves the screen.
//
// `app.js` creates one `AttachmentsView`, calls `bind` on each new chat screen, `decorate` for
// each message it renders, `show` when another conversation opens and `reset` on signing out.

import { ConfabError, attachmentInfo, formatBytes } from './sdk/confab.js';

/** @typedef {import('./sdk/confab.js').ConfabClient} ConfabClient */
/** @typedef {import('./sdk/sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk/sdk-attachments.js').AttachmentInfo} AttachmentInfo */
/** @typedef {import('./sdk/sdk-attachments.js').ObjectUrl} ObjectUrl */
/** @typedef {import('./sdk/types/proto.js').Content} Content */

/**
 * What goes with an upload's message: the composer's text as its caption, the message it replies
 * to, the disappearing-message timer.
 * @typedef {{ text: string, replyTo?: string, expiresInSeconds?: number }} Draft
 */

/** Video and audio up to this size load when shown; larger ones when asked to (a button). */
const MEDIA_AUTOLOAD_BYTES = 16 * 1024 * 1024;
/** An image without a thumbnail is shown whole up to this size, else as a file card. */
const IMAGE_WITHOUT_THUMBNAIL_BYTES = 4 * 1024 * 1024;
/** The longer side of a thumbnail as shown (the server makes them at most 320 px). */
const THUMBNAIL_PX = 320;
/** How long a downloaded file's object URL outlives the click that saved it (ms). */
const DOWNLOAD_URL_MS = 60_000;
/** Uploads streaming at once from this page: the server takes 4 per user at a time, and the
 * user's other devices may be uploading too. Further files wait their turn. */
const UPLOADS_AT_ONCE = 3;
/** How far outside the message view an attachment starts loading. */
const LOAD_AHEAD = '800px 0px';

const LABELS = { image: 'Photo', video: 'Video', audio: 'Audio', file: 'File' };
const ICONS = { image: '📷', video: '🎬', audio: '🎵', file: '📎' };

/**
 * A short text for an attachment message (conversation list, reply quotes, announcements):
 * "📷 Photo", "📎 report.pdf", or the icon and the caption. Null for other content.
 * @param {Content | null | undefined} content
 */
export function attachmentLabel(content) {
  const info = attachmentInfo(content);
  if (!info) return null;
  const what = info.type === 'file' ? info.filename || LABELS.file : LABELS[info.type];
  return `${ICONS[info.type]} ${info.text || what}`;
}

/**
 * The text of a message's bubble: an attachment's caption ('' when none), else null (the
 * message's own text applies).
 * @param {Content | null | undefined} content
 */
export function captionOf(content) {
  const info = attachmentInfo(content);
  return info ? info.text : null;
}

/**
 * What the server's refusal of an upload tells the user.
 * @param {string} name
 * @param {unknown} err
 */
function uploadErrorText(name, err) {
  if (err instanceof ConfabError) {
    if (err.code === 'PAYLOAD_TOO_LARGE') {
      const limit = /(\d+) bytes/.exec(err.message);
      return `“${name}” is too large to send` + (limit ? `: the limit is ${formatBytes(Number(limit[1]))}.` : '.');
    }
    if (err.code === 'NETWORK') return `“${name}” was not sent: the server cannot be reached.`;
    if (err.code === 'RATE_LIMITED') return `“${name}” was not sent: too many uploads. Try again in ${err.retryAfter || 1} s.`;
    const text = err.message || err.code;
    return `“${name}” was not sent: ${text.charAt(0).toLowerCase() + text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
  }
  return `“${name}” was not sent: ${err instanceof Error ? err.message : String(err)}`;
}

/** @param {unknown} err */
function isAbort(err) {
  return err instanceof DOMException && err.name === 'AbortError';
}

/**
 * A drag that carries files.
 * @param {DragEvent} e
 */
function carriesFiles(e) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
}

/**
 * An element with a class and, optionally, a test id.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} className
 * @param {string} [testid]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, className, testid) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (testid) e.dataset.testid = testid;
  return e;
}

/**
 * What a shown attachment holds: its object URLs, the fetches under way, and what to do once it
 * comes near the view (`load`, until then).
 * @typedef {{ urls: Set<ObjectUrl>, controller: AbortController, released: boolean, load?: () => void }} Held
 */

/**
 * @typedef {object} Upload
 * @property {string} conversationId
 * @property {File} file
 * @property {Draft} draft
 * @property {AbortController} controller
 * @property {HTMLLIElement} li
 * @property {boolean} cancelled
 */

export class AttachmentsView {
  /**
   * @param {object} deps
   * @param {() => ConfabClient} deps.client  the signed-in client
   * @param {() => string | null} deps.current  the open conversation
   * @param {() => Draft} deps.takeDraft  takes the composer's text (and reply, timer) for the
   *   first file, leaving the composer empty
   * @param {(conversationId: string, text: string) => void} deps.restoreDraft  gives a caption
   *   back to the composer when its upload did not become a message
   * @param {() => void} deps.sent  an upload's message was written (scroll to it)
   */
  constructor({ client, current, takeDraft, restoreDraft, sent }) {
    this.deps = { client, current, takeDraft, restoreDraft, sent };
    /** @type {WeakMap<HTMLElement, Held>} an attachment's box → what it holds */
    this.held = new WeakMap();
    /** @type {Set<Held>} everything held, for `reset` */
    this.allHeld = new Set();
    /** @type {Set<Upload>} */
    this.uploads = new Set();
    /** Uploads streaming now, and the starts of those waiting for a turn. */
    this.running = 0;
    /** @type {Array<() => void>} */
    this.waiting = [];
    /** @type {MutationObserver | null} */
    this.observer = null;
    /** @type {IntersectionObserver | null} attachments load as they come near the view */
    this.visibility = null;
    /** @type {ObjectUrl | null} the lightbox's full image */
    this.lightboxUrl = null;
    // A file dropped anywhere else must not make the browser leave the app to show it.
    window.addEventListener('dragover', (e) => {
      if (!carriesFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      if (!(e.target instanceof Element && e.target.closest('#chat-view'))) e.dataTransfer.dropEffect = 'none';
    });
    window.addEventListener('drop', (e) => {
      if (carriesFiles(e)) e.preventDefault();
    });
  }

  // ---- sending ----

  /** Wires a new chat screen: the attach button, drop on the conversation, paste in the composer. */
  bind() {
    const button = document.getElementById('attach-btn');
    const input = document.getElementById('attach-input');
    const view = document.getElementById('chat-view');
    const composer = document.getElementById('composer-input');
    const list = document.getElementById('message-list');
    if (!(input instanceof HTMLInputElement) || !button || !view || !composer || !list) return;
    button.addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const files = [...(input.files || [])];
      input.value = '';
      this.add(files);
    });
    view.addEventListener('dragover', (e) => {
      if (!carriesFiles(e) || !this.#canSend()) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      view.dataset.dropping = 'true';
    });
    view.addEventListener('dragleave', (e) => {
      if (!(e.relatedTarget instanceof Node && view.contains(e.relatedTarget))) delete view.dataset.dropping;
    });
    view.addEventListener('drop', (e) => {
      delete view.dataset.dropping;
      if (!carriesFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      if (this.#canSend()) this.add([...e.dataTransfer.files]);
    });
    composer.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (!files.length || !this.#canSend()) return;
      e.preventDefault();
      this.add(files);
    });
    // A message that leaves the list (another conversation, a page of history dropped) lets go
    // of its blobs. Moved items are still connected when this runs, and keep theirs.
    this.observer?.disconnect();
    this.observer = new MutationObserver((records) => {
      for (const r of records) {
        for (const node of r.removedNodes) {
          if (node instanceof HTMLElement && !node.isConnected) this.#releaseWithin(node);
        }
      }
    });
    this.observer.observe(list, { childList: true });
    this.visibility?.disconnect();
    this.visibility = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting || !(entry.target instanceof HTMLElement)) continue;
          this.visibility?.unobserve(entry.target);
          const held = this.held.get(entry.target);
          const load = held?.load;
          if (held && load) {
            delete held.load;
            load();
          }
        }
      },
      { root: document.getElementById('message-scroll'), rootMargin: LOAD_AHEAD },
    );
  }

  /**
   * Runs `load` once the attachment's box comes near the view (at once without an observer).
   * @param {HTMLElement} box
   * @param {Held} held
   * @param {() => void} load
   */
  #whenNear(box, held, load) {
    if (!this.visibility) {
      load();
      return;
    }
    held.load = load;
    this.visibility.observe(box);
  }

  /** The composer can send (not disabled, e.g. while the other person is blocked). */
  #canSend() {
    const input = document.getElementById('composer-input');
    return !!this.deps.current() && input instanceof HTMLTextAreaElement && !input.disabled;
  }

  /** The attach button follows the composer (disabled with it). */
  renderComposer() {
    const button = document.getElementById('attach-btn');
    if (button instanceof HTMLButtonElement) button.disabled = !this.#canSend();
  }

  /**
   * Uploads files to the open conversation, each then sent as a message; the first one takes
   * the composer's text as its caption.
   * @param {File[]} files
   */
  add(files) {
    const conversationId = this.deps.current();
    if (!conversationId || !files.length) return;
    const draft = this.deps.takeDraft();
    files.forEach((file, i) => {
      const ownDraft = i === 0 ? draft : { text: '', expiresInSeconds: draft.expiresInSeconds };
      this.#start(conversationId, file, ownDraft);
    });
    this.show(conversationId);
  }

  /**
   * @param {string} conversationId
   * @param {File} file
   * @param {Draft} draft
   */
  async #start(conversationId, file, draft) {
    const list = document.getElementById('upload-list');
    if (!list) return;
    const li = el('li', 'upload', 'upload-item');
    li.dataset.state = 'uploading';
    li.dataset.name = file.name;
    li.dataset.conversationId = conversationId;
    const name = el('span', 'upload-name', 'upload-name');
    name.textContent = file.name || 'file';
    name.title = `${file.name} (${formatBytes(file.size)})`;
    const progress = el('progress', 'upload-progress', 'upload-progress');
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute('aria-label', `Uploading ${file.name}`);
    const percent = el('span', 'upload-percent', 'upload-percent');
    percent.textContent = '0%';
    const cancel = el('button', 'upload-cancel', 'upload-cancel');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.setAttribute('aria-label', `Cancel sending ${file.name}`);
    li.append(name, progress, percent, cancel);
    list.append(li);
    /** @type {Upload} */
    const upload = { conversationId, file, draft, controller: new AbortController(), li, cancelled: false };
    this.uploads.add(upload);
    cancel.addEventListener('click', () => {
      upload.cancelled = true;
      upload.controller.abort();
      this.#finish(upload);
      if (draft.text) this.deps.restoreDraft(conversationId, draft.text);
    });
    if (this.running >= UPLOADS_AT_ONCE) {
      li.dataset.state = 'waiting';
      await new Promise((resolve) => this.waiting.push(() => resolve(undefined)));
    } else {
      this.running += 1;
    }
    if (upload.cancelled) {
      this.#nextUpload();
      return;
    }
    li.dataset.state = 'uploading';
    const client = this.deps.client();
    try {
      const attachment = await client.uploadAttachment(file, {
        signal: upload.controller.signal,
        onProgress: (sent, total) => {
          const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
          progress.value = pct;
          percent.textContent = `${pct}%`;
          li.dataset.sent = String(sent);
        },
      });
      // Cancelled while the answer was on its way: the file is not sent.
      if (upload.cancelled) return;
      client.sendAttachment(conversationId, attachment, {
        text: draft.text || undefined,
        replyTo: draft.replyTo,
        expiresInSeconds: draft.expiresInSeconds,
      });
      this.#finish(upload);
      if (this.deps.current() === conversationId) this.deps.sent();
    } catch (err) {
      if (upload.cancelled || isAbort(err)) return;
      li.dataset.state = 'error';
      const message = el('span', 'error upload-error', 'upload-error');
      message.setAttribute('role', 'alert');
      message.textContent = uploadErrorText(file.name || 'file', err);
      const dismiss = el('button', 'upload-dismiss', 'upload-dismiss');
      dismiss.type = 'button';
      dismiss.textContent = 'Dismiss';
      dismiss.addEventListener('click', () => this.#finish(upload));
      li.replaceChildren(message, dismiss);
      if (draft.text) this.deps.restoreDraft(conversationId, draft.text);
      dismiss.focus();
    } finally {
      this.#nextUpload();
    }
  }

  /** Hands this upload's turn to the next waiting one (the count stays), or frees it. */
  #nextUpload() {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }

  /** @param {Upload} upload */
  #finish(upload) {
    this.uploads.delete(upload);
    upload.li.remove();
    this.show(this.deps.current());
  }

  /**
   * Shows the uploads of this conversation (and hides the others').
   * @param {string | null} conversationId
   */
  show(conversationId) {
    const list = document.getElementById('upload-list');
    if (!list) return;
    let any = false;
    for (const li of list.querySelectorAll('li')) {
      const here = li instanceof HTMLElement && li.dataset.conversationId === conversationId;
      if (li instanceof HTMLElement) li.hidden = !here;
      any ||= here;
    }
    list.hidden = !any;
  }

  /** Signing out: every upload is aborted and every blob released. */
  reset() {
    for (const upload of this.uploads) {
      upload.cancelled = true;
      upload.controller.abort();
    }
    this.uploads.clear();
    for (const held of this.allHeld) this.#release(held);
    this.allHeld.clear();
    this.observer?.disconnect();
    this.observer = null;
    this.visibility?.disconnect();
    this.visibility = null;
    this.#closeLightbox();
  }

  // ---- showing ----

  /**
   * Renders a message's attachment (none for other messages and for tombstones), above its
   * caption; the caption's element is hidden when there is none.
   * @param {HTMLLIElement} li
   * @param {LocalMessage} m
   */
  decorate(li, m) {
    const deleted = m.deleted === true || m.content.type === 'deleted';
    const info = deleted ? null : attachmentInfo(m.content);
    const text = li.querySelector(':scope > .text');
    let box = /** @type {HTMLElement | null} */ (li.querySelector(':scope > .attachment'));
    if (text instanceof HTMLElement) text.hidden = !!info && !info.text;
    li.classList.toggle('has-attachment', !!info);
    if (box && box.dataset.attachmentId !== info?.attachmentId) {
      this.#releaseWithin(box);
      box.remove();
      box = null;
    }
    if (!info || box) return;
    box = this.#build(info);
    if (text) text.before(box);
    else li.append(box);
  }

  /**
   * @param {AttachmentInfo} info
   * @returns {HTMLElement}
   */
  #build(info) {
    const box = el('div', 'attachment', 'attachment');
    box.dataset.attachmentId = info.attachmentId;
    const asImage = info.type === 'image' && (info.hasThumbnail || (info.size !== null && info.size <= IMAGE_WITHOUT_THUMBNAIL_BYTES));
    const kind = info.type === 'image' && !asImage ? 'file' : info.type;
    box.dataset.kind = kind;
    box.classList.add('attachment-' + kind);
    /** @type {Held} */
    const held = { urls: new Set(), controller: new AbortController(), released: false };
    this.held.set(box, held);
    this.allHeld.add(held);
    if (kind === 'image') this.#image(box, held, info);
    else if (kind === 'video' || kind === 'audio') this.#media(box, held, info, kind);
    else this.#file(box, held, info);
    return box;
  }

  /**
   * Fetches a blob for a box; resolves to its URL (or null once the box is gone).
   * @param {Held} held
   * @param {(client: ConfabClient, signal: AbortSignal) => Promise<ObjectUrl>} fetchUrl
   */
  async #fetch(held, fetchUrl) {
    const url = await fetchUrl(this.deps.client(), held.controller.signal);
    if (held.released) {
      url.release();
      return null;
    }
    held.urls.add(url);
    return url;
  }

  /**
   * A load failed: "unavailable" when the server says there is nothing for this user (the
   * message was deleted, they left, it was never theirs to see), else a way to try again.
   * @param {HTMLElement} box
   * @param {AttachmentInfo} info
   * @param {unknown} err
   */
  #failed(box, info, err) {
    if (isAbort(err) || !box.isConnected) return;
    const gone = err instanceof ConfabError && (err.code === 'NOT_FOUND' || err.status === 404);
    box.dataset.state = gone ? 'unavailable' : 'error';
    const note = el('span', 'attachment-unavailable', gone ? 'attachment-unavailable' : 'attachment-error');
    const name = info.filename ? ` (${info.filename})` : '';
    note.textContent = gone ? `Attachment unavailable${name}` : `Could not load the attachment${name}.`;
    box.replaceChildren(note);
    if (!gone) {
      const retry = el('button', 'link', 'attachment-retry');
      retry.type = 'button';
      retry.textContent = 'Retry';
      retry.addEventListener('click', () => {
        this.#releaseWithin(box);
        box.replaceWith(this.#build(info));
      });
      box.append(' ', retry);
    }
  }

  /**
   * An image: its thumbnail (or the image itself when it has none and is small), a button that
   * opens the lightbox.
   * @param {HTMLElement} box
   * @param {Held} held
   * @param {AttachmentInfo} info
   */
  #image(box, held, info) {
    const name = info.filename || 'image';
    box.dataset.state = 'loading';
    const open = el('button', 'attachment-open', 'attachment-open');
    open.type = 'button';
    open.setAttribute('aria-label', `Open image ${name}`);
    const img = el('img', 'attachment-thumb', 'attachment-thumb');
    img.alt = info.text || name;
    img.decoding = 'async';
    if (info.width && info.height) {
      // The thumbnail's size, known before it arrives: the layout does not jump.
      const scale = Math.min(1, THUMBNAIL_PX / Math.max(info.width, info.height));
      img.width = Math.max(1, Math.round(info.width * scale));
      img.height = Math.max(1, Math.round(info.height * scale));
    }
    open.append(img);
    box.append(open);
    open.addEventListener('click', () => this.#openLightbox(info));
    img.addEventListener('load', () => {
      if (img.naturalWidth > 0) box.dataset.state = 'ready';
    });
    img.addEventListener('error', () => {
      if (img.getAttribute('src')) this.#failed(box, info, new Error('not an image'));
    });
    const id = info.attachmentId;
    this.#whenNear(box, held, () =>
      this.#fetch(held, (client, signal) => (info.hasThumbnail ? client.thumbnailUrl(id, { signal }) : client.attachmentUrl(id, { signal })))
        .then((url) => {
          if (url) img.src = url.url;
        })
        .catch((err) => this.#failed(box, info, err)),
    );
  }

  /**
   * Video or audio: the browser's player, fed from a blob (large files when asked).
   * @param {HTMLElement} box
   * @param {Held} held
   * @param {AttachmentInfo} info
   * @param {'video' | 'audio'} kind
   */
  #media(box, held, info, kind) {
    const name = info.filename || LABELS[kind];
    const label = el('span', 'attachment-label', 'attachment-name');
    label.textContent = `${ICONS[kind]} ${name}` + (info.size !== null ? ` · ${formatBytes(info.size)}` : '');
    const load = () => {
      box.dataset.state = 'loading';
      const player = el(kind, 'attachment-player', 'attachment-' + kind);
      player.controls = true;
      player.preload = 'metadata';
      player.setAttribute('aria-label', name);
      box.replaceChildren(label, player);
      this.#fetch(held, (client, signal) => client.attachmentUrl(info.attachmentId, { signal }))
        .then((url) => {
          if (!url) return;
          player.src = url.url;
          box.dataset.state = 'ready';
        })
        .catch((err) => this.#failed(box, info, err));
    };
    if (info.size !== null && info.size <= MEDIA_AUTOLOAD_BYTES) {
      box.dataset.state = 'loading';
      box.replaceChildren(label);
      this.#whenNear(box, held, load);
      return;
    }
    box.dataset.state = 'idle';
    const play = el('button', 'attachment-load', 'attachment-load');
    play.type = 'button';
    play.textContent = kind === 'video' ? 'Load video' : 'Load audio';
    play.addEventListener('click', load);
    box.replaceChildren(label, play);
  }

  /**
   * Any other file: a card with the name, the size and a Download button.
   * @param {HTMLElement} box
   * @param {Held} held
   * @param {AttachmentInfo} info
   */
  #file(box, held, info) {
    const name = info.filename || 'file';
    box.dataset.state = 'ready';
    const icon = el('span', 'file-icon');
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = '📄';
    const about = el('span', 'file-about');
    const title = el('span', 'file-name', 'attachment-name');
    title.textContent = name;
    title.title = name;
    const size = el('span', 'file-size', 'attachment-size');
    size.textContent = info.size !== null ? formatBytes(info.size) : '';
    about.append(title, size);
    const download = el('button', 'file-download', 'attachment-download');
    download.type = 'button';
    download.textContent = 'Download';
    download.setAttribute('aria-label', `Download ${name}`);
    download.addEventListener('click', () => {
      download.disabled = true;
      download.textContent = 'Downloading…';
      this.#fetch(held, (client, signal) => client.attachmentUrl(info.attachmentId, { signal }))
        .then((url) => {
          download.disabled = false;
          download.textContent = 'Download';
          if (!url) return;
          const a = document.createElement('a');
          a.href = url.url;
          a.download = name;
          a.hidden = true;
          document.body.append(a);
          a.click();
          a.remove();
          // The browser has the blob once the download started; the URL can go a little later.
          setTimeout(() => {
            url.release();
            held.urls.delete(url);
          }, DOWNLOAD_URL_MS);
        })
        .catch((err) => this.#failed(box, info, err));
    });
    box.append(icon, about, download);
  }

  /**
   * Releases the attachments inside `root` (and `root` itself): fetches stop, URLs are revoked,
   * and their boxes leave their messages, to be built again should those be shown again.
   * @param {HTMLElement} root
   */
  #releaseWithin(root) {
    const boxes = root.matches('.attachment') ? [root] : [...root.querySelectorAll('.attachment')];
    for (const box of boxes) {
      if (!(box instanceof HTMLElement)) continue;
      const held = this.held.get(box);
      if (held) this.#release(held);
      this.held.delete(box);
      this.visibility?.unobserve(box);
      if (box !== root) box.remove();
    }
  }

  /** @param {Held} held */
  #release(held) {
    held.released = true;
    delete held.load;
    held.controller.abort();
    for (const url of held.urls) url.release();
    held.urls.clear();
    this.allHeld.delete(held);
  }

  // ---- the lightbox ----

  #lightbox() {
    const existing = document.getElementById('lightbox');
    if (existing instanceof HTMLDialogElement) return existing;
    const d = el('dialog', 'lightbox', 'lightbox');
    d.id = 'lightbox';
    d.setAttribute('aria-label', 'Image');
    const img = el('img', 'lightbox-image', 'lightbox-image');
    const status = el('p', 'lightbox-status', 'lightbox-status');
    status.setAttribute('role', 'status');
    const close = el('button', 'icon lightbox-close', 'lightbox-close');
    close.type = 'button';
    close.textContent = '✕';
    close.setAttribute('aria-label', 'Close image');
    d.append(close, img, status);
    // The full image is let go of as the dialog closes (the `close` event comes a task later).
    const letGo = () => {
      img.removeAttribute('src');
      this.lightboxUrl?.release();
      this.lightboxUrl = null;
    };
    // Any click closes it (the image, the backdrop, the button); Escape does, as for any dialog.
    d.addEventListener('click', () => {
      letGo();
      d.close();
    });
    d.addEventListener('close', letGo);
    document.body.append(d);
    return d;
  }

  /** @param {AttachmentInfo} info */
  async #openLightbox(info) {
    const d = this.#lightbox();
    const img = /** @type {HTMLImageElement} */ (d.querySelector('img'));
    const status = /** @type {HTMLElement} */ (d.querySelector('.lightbox-status'));
    const name = info.filename || 'image';
    d.setAttribute('aria-label', `Image ${name}`);
    img.alt = info.text || name;
    img.removeAttribute('src');
    img.hidden = true;
    status.textContent = 'Loading…';
    d.dataset.state = 'loading';
    d.dataset.attachmentId = info.attachmentId;
    if (!d.open) d.showModal();
    d.querySelector('button')?.focus();
    try {
      const url = await this.deps.client().attachmentUrl(info.attachmentId);
      if (!d.open || d.dataset.attachmentId !== info.attachmentId) {
        url.release();
        return;
      }
      this.lightboxUrl?.release();
      this.lightboxUrl = url;
      img.onload = () => {
        d.dataset.state = 'ready';
      };
      img.src = url.url;
      img.hidden = false;
      status.textContent = info.text || name;
    } catch (err) {
      const gone = err instanceof ConfabError && err.code === 'NOT_FOUND';
      d.dataset.state = gone ? 'unavailable' : 'error';
      status.textContent = gone ? 'Attachment unavailable' : 'Could not load the image.';
    }
  }

  #closeLightbox() {
    const d = document.getElementById('lightbox');
    if (d instanceof HTMLDialogElement && d.open) d.close();
  }
}
