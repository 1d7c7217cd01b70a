// The API over one WebSocket: numbered requests matched to answers, pushes handed on, and a
// socket that comes back by itself (exponential backoff with jitter, at once when the browser
// says the network is back). See docs/api.md for the frames.
//
// A call survives a dropped socket when repeating it is safe: reads, the idempotent methods,
// and anything carrying a random_id (the server deduplicates on it). Other calls that were
// written to a socket that then dropped fail with CONNECTION_LOST: they may or may not have
// been applied, and only the caller can decide what to do.

const REPEATABLE = new Set([
  'messages.readHistory',
  'messages.setTyping',
  'account.updateProfile',
  'contacts.importContacts',
  'auth.sendCode',
  // reads, and writes that set a state (doing them twice leaves the same state)
  'messages.search',
  'contacts.search',
  'messages.sendReaction',
  'messages.updatePinnedMessage',
  'channels.editAdmin',
]);

export function isRepeatable(method, params) {
  const verb = method.slice(method.indexOf('.') + 1);
  return (
    verb.startsWith('get') ||
    verb.startsWith('resolve') ||
    REPEATABLE.has(method) ||
    (params != null && 'random_id' in params)
  );
}

/** An error the server answered with ({code, type, message, retry_after}) or a transport one. */
export class ApiError extends Error {
  constructor(code, type, message, retryAfter) {
    super(`${code} ${type}: ${message}`);
    this.code = code;
    this.type = type;
    this.retry_after = retryAfter;
  }

  /** True when the server judged the call (not the network): repeating it will not help. */
  get isRejection() {
    return this.code >= 400 && this.code < 500 && this.code !== 429;
  }
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const PING_EVERY_MS = 25_000;
const PING_TIMEOUT_MS = 10_000;
const CLOSE_REVOKED = 4401;

/**
 * Events (EventTarget): 'status' {status: 'offline'|'connecting'|'open'}, 'open' (a new
 * socket is ready), 'push' {updates}, 'unauthorized' (the token is no longer valid).
 */
export class Connection extends EventTarget {
  constructor(baseUrl = location.origin) {
    super();
    this.baseUrl = baseUrl;
    this.token = null;
    this.ws = null;
    this.status = 'connecting';
    this.nextId = 1;
    this.pending = new Map(); // id -> {method, params, resolve, reject, sent, timer}
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.running = false;
    this.onOnline = () => {
      if (this.status !== 'open') this.reconnectNow();
    };
    this.onOffline = () => this.dropSocket();
    this.onVisible = () => {
      if (document.visibilityState === 'visible' && this.status !== 'open') this.reconnectNow();
    };
  }

  start(token = null) {
    this.token = token;
    if (!this.running) {
      this.running = true;
      window.addEventListener('online', this.onOnline);
      window.addEventListener('offline', this.onOffline);
      document.addEventListener('visibilitychange', this.onVisible);
    }
    this.reconnectNow();
  }

  /** Use another token (after sign-in or sign-out): a fresh socket carries it, and calls
   * made for the previous identity fail rather than run as the new one. */
  setToken(token) {
    this.token = token;
    this.rejectAll('the session changed');
    this.reconnectNow();
  }

  rejectAll(why) {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new ApiError(0, 'CONNECTION_LOST', why));
    }
  }

  stop() {
    this.running = false;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    this.closeSocket();
    this.rejectAll('the client was stopped');
  }

  /**
   * Call a method; resolves with the result or rejects with ApiError. While the socket is
   * down the call waits for it, up to `timeout` ms (0: no limit).
   */
  call(method, params = {}, { timeout = 30_000 } = {}) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const p = { method, params, resolve, reject, sent: false, timer: null };
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new ApiError(0, 'TIMEOUT', `${method} got no answer`));
        }, timeout);
      }
      this.pending.set(id, p);
      if (this.status === 'open') this.write(id, p);
    });
  }

  write(id, p) {
    if (this.ws?.readyState !== WebSocket.OPEN) return; // sent on the next open
    p.sent = true;
    this.ws.send(JSON.stringify({ id, method: p.method, params: p.params }));
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status } }));
  }

  reconnectNow() {
    if (!this.running) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.closeSocket();
    this.failInFlight();
    this.connect();
  }

  /** The browser says the network is gone: do not wait for the socket to notice. */
  dropSocket() {
    this.closeSocket();
    this.failInFlight();
    this.setStatus('offline');
  }

  connect() {
    if (!navigator.onLine) {
      this.setStatus('offline');
      return;
    }
    this.setStatus('connecting');
    const url = new URL('/api/ws', this.baseUrl.replace(/^http/, 'ws'));
    if (this.token) url.searchParams.set('token', this.token);
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.setStatus('open');
      this.schedulePing();
      this.dispatchEvent(new Event('open'));
      // Calls made while the socket was down, and repeatable ones cut off by the last drop.
      for (const [id, p] of this.pending) if (!p.sent) this.write(id, p);
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.pingTimer);
      this.failInFlight();
      if (ev.code === CLOSE_REVOKED) {
        this.dispatchEvent(new Event('unauthorized'));
        return;
      }
      if (!this.running) return;
      if (!navigator.onLine) {
        this.setStatus('offline');
        return;
      }
      this.setStatus('connecting');
      // Refused at the handshake: now and then ask whether the token itself is refused.
      if (!opened && this.token && this.attempt % 4 === 0) this.checkToken();
      this.scheduleRetry();
    };
  }

  /** The handshake failed: is the server down, or does it refuse our token (401)? */
  async checkToken() {
    try {
      const r = await fetch(`${this.baseUrl}/api/updates.getState`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
        body: '{}',
      });
      if (r.status === 401) this.dispatchEvent(new Event('unauthorized'));
    } catch {
      // unreachable: the retry loop goes on
    }
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  closeSocket() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    clearTimeout(this.pingTimer);
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000);
    } catch {
      // already closing
    }
  }

  /** The socket is gone: repeat safe calls on the next one, fail the others. */
  failInFlight() {
    for (const [id, p] of this.pending) {
      if (!p.sent) continue;
      if (isRepeatable(p.method, p.params)) {
        p.sent = false;
      } else {
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new ApiError(0, 'CONNECTION_LOST', `${p.method} may not have been applied`));
      }
    }
  }

  /** A quiet socket is checked now and then, so a dead one is noticed and replaced. */
  schedulePing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(async () => {
      const ws = this.ws;
      if (!ws || !this.token) return;
      try {
        const state = await this.call('updates.getState', {}, { timeout: PING_TIMEOUT_MS });
        this.dispatchEvent(new CustomEvent('state', { detail: state }));
        if (this.ws === ws) this.schedulePing();
      } catch (e) {
        if (this.ws === ws && e.type === 'TIMEOUT') {
          this.closeSocket();
          this.failInFlight();
          this.setStatus('connecting');
          this.scheduleRetry();
        }
      }
    }, PING_EVERY_MS);
  }

  onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (Array.isArray(frame.updates)) {
      this.dispatchEvent(new CustomEvent('push', { detail: { updates: frame.updates } }));
      return;
    }
    const p = this.pending.get(frame.id);
    if (!p) return;
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.ok) {
      p.resolve(frame.result);
    } else {
      const e = frame.error ?? {};
      if (e.code === 401 && this.token) this.dispatchEvent(new Event('unauthorized'));
      p.reject(new ApiError(e.code ?? 0, e.type ?? 'UNKNOWN', e.message ?? '', e.retry_after));
    }
  }
}
