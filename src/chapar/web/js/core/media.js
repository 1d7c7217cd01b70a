// Files: uploads in 512 KiB parts (raw bytes, PUT /api/files/<id>/parts/<n>) with progress,
// resumed after a dropped connection by asking the server which parts it holds
// (upload.getUploadedParts), then sent with messages.sendMedia; and short-lived signed URLs
// for <img src> and downloads (messages.getMediaUrl), cached until shortly before they
// expire. See docs/media.md for the server side.

import { ApiError } from './connection.js';
import { newRandomId, peerKeyOf } from './outbox.js';

export const PART_SIZE = 512 * 1024;
export const PHOTO_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);
const MAX_PHOTO_BYTES = 20 * 1024 * 1024;
const URL_MARGIN_S = 60;
const RETRY_MS = 1500;

/** How a file goes out: as a photo (compressed, with thumbnails) or as a document. */
export function mediaKind(file) {
  return PHOTO_TYPES.has(file.type) && file.size <= MAX_PHOTO_BYTES ? 'photo' : 'document';
}

/**
 * One file on its way: the parts go up one after another; `progress` (0..1) and `state`
 * ('uploading' | 'sending' | 'failed' | 'done') are what the screen shows.
 */
export class Upload {
  constructor(client, key, file, caption = '', replyTo = null) {
    this.client = client;
    this.key = key;
    this.peer = client.peerOf(key);
    this.file = file;
    this.caption = caption;
    this.replyTo = replyTo;
    this.kind = mediaKind(file);
    this.fileId = newRandomId();
    this.randomId = newRandomId();
    this.parts = Math.max(1, Math.ceil(file.size / PART_SIZE));
    this.done = new Set();
    this.partProgress = 0;
    this.state = 'uploading';
    this.error = null;
    this.cancelled = false;
    this.xhr = null;
    this.date = Math.floor(Date.now() / 1000);
    this.preview = this.kind === 'photo' ? URL.createObjectURL(file) : null;
  }

  get progress() {
    return Math.min(1, (this.done.size + this.partProgress) / this.parts);
  }

  changed() {
    this.client.emit('messages', this.key);
  }

  cancel() {
    this.cancelled = true;
    this.xhr?.abort();
    this.forget();
  }

  forget() {
    if (this.preview) URL.revokeObjectURL(this.preview);
    this.preview = null;
    this.client.uploads = this.client.uploads.filter((u) => u !== this);
    this.changed();
    this.client.emit('dialogs');
  }

  /** Upload what the server does not hold yet, then send; retried until it succeeds, is
   * refused, or is cancelled. */
  async run() {
    this.state = 'uploading';
    this.error = null;
    this.changed();
    let resumed = false;
    while (!this.cancelled) {
      try {
        if (resumed) await this.askServer();
        for (let n = 0; n < this.parts && !this.cancelled; n++) {
          if (this.done.has(n)) continue;
          await this.putPart(n);
          this.done.add(n);
          this.partProgress = 0;
          this.changed();
        }
        if (this.cancelled) return;
        this.state = 'sending';
        this.changed();
        await this.send();
        return;
      } catch (e) {
        if (this.cancelled) return;
        if (e instanceof ApiError && e.isRejection) {
          this.state = 'failed';
          this.error = e.type;
          this.changed();
          return;
        }
        // The network or the server went away: wait for the connection, then resume.
        this.state = 'uploading';
        this.partProgress = 0;
        this.changed();
        await this.client.whenOnline();
        await sleep(RETRY_MS);
        resumed = true;
      }
    }
  }

  /** After a drop: the parts the server already has need not be sent again. */
  async askServer() {
    const res = await this.client.conn.call('upload.getUploadedParts', { file_id: this.fileId });
    this.done = new Set(res.parts.filter((n) => n < this.parts));
    this.changed();
  }

  putPart(n) {
    const blob = this.file.slice(n * PART_SIZE, (n + 1) * PART_SIZE);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('PUT', `/api/files/${this.fileId}/parts/${n}?total=${this.parts}`);
      xhr.setRequestHeader('Authorization', `Bearer ${this.client.token}`);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total) {
          this.partProgress = e.loaded / e.total;
          this.changed();
        }
      };
      xhr.onload = () => {
        this.xhr = null;
        if (xhr.status === 200) return resolve();
        let err = {};
        try {
          err = JSON.parse(xhr.responseText).error ?? {};
        } catch {
          // not JSON: a proxy's page
        }
        reject(new ApiError(xhr.status, err.type ?? 'UPLOAD_FAILED', err.message ?? ''));
      };
      xhr.onerror = xhr.onabort = () => {
        this.xhr = null;
        reject(new ApiError(0, 'CONNECTION_LOST', 'the upload was cut off'));
      };
      xhr.send(blob);
    });
  }

  async send() {
    const params = {
      peer: this.peer,
      random_id: this.randomId,
      type: this.kind,
      file: {
        id: this.fileId,
        parts: this.parts,
        name: this.file.name || '',
        mime_type: this.file.type || 'application/octet-stream',
      },
    };
    if (this.caption) params.caption = this.caption;
    if (this.replyTo) params.reply_to = this.replyTo;
    const res = await this.client.conn.call('messages.sendMedia', params, { timeout: 0 });
    this.state = 'done';
    this.client.confirmSent(res);
    this.forget();
  }
}

/** Signed download URLs by message (and thumbnail size), reused until shortly before expiry. */
export class MediaUrls {
  constructor(call) {
    this.call = call;
    this.cache = new Map(); // "peerKey:msgId:thumb" -> {url, expires} | Promise
  }

  clear() {
    this.cache.clear();
  }

  /** The URL if a fresh one is known (for drawing at once), else null. */
  peek(peer, msgId, thumb = null) {
    const hit = this.cache.get(cacheKey(peer, msgId, thumb));
    if (!hit || hit instanceof Promise) return null;
    return hit.expires - URL_MARGIN_S > Date.now() / 1000 ? hit.url : null;
  }

  async get(peer, msgId, thumb = null) {
    const k = cacheKey(peer, msgId, thumb);
    const hit = this.cache.get(k);
    if (hit instanceof Promise) return hit;
    if (hit && hit.expires - URL_MARGIN_S > Date.now() / 1000) return hit.url;
    const params = { peer, msg_id: msgId };
    if (thumb) params.thumb = thumb;
    const p = this.call('messages.getMediaUrl', params).then(
      (res) => {
        this.cache.set(k, { url: res.url, expires: res.expires });
        return res.url;
      },
      (e) => {
        this.cache.delete(k);
        throw e;
      },
    );
    this.cache.set(k, p);
    return p;
  }
}

function cacheKey(peer, msgId, thumb) {
  return `${peerKeyOf(peer)}:${msgId}:${thumb ?? ''}`;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
