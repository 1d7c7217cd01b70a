// The client core: the signed-in user, the chats and messages the screens show, and the rules
// that keep them equal to the server's (the user's update log through the Sequencer, each
// group's and channel's own log through a ChannelSequencer, the outbox, uploads).
// It knows nothing of the DOM; screens listen to its 'change' events and call its methods.
// Groups and channels: core/chats.js adds their rules and actions to this class; pinned
// and muted chats: core/dialogs.js.
//
// Change events carry {what, key}: what is 'auth', 'status', 'dialogs', 'messages' (key: the
// chat), 'typing' (key), 'chat' (key: a group's or channel's info changed) or 'me'.
//
// Messages are identified by chat and id together: private ids are per user box, and each
// group or channel numbers its own messages (docs/api.md, docs/chats.md).

import { ApiError, Connection } from './connection.js';
import { MediaUrls, Upload } from './media.js';
import { Outbox, peerKeyOf } from './outbox.js';
import { Sequencer } from './sync.js';
import { chatMethods } from './chats.js';
import { dialogMethods } from './dialogs.js';

const AUTH_KEY = 'chapar.auth';
const TYPING_SHOWN_MS = 6000;
const HISTORY_PAGE = 50;

export { ApiError, peerKeyOf };

export function peerOfKey(key) {
  const id = Number(key.slice(1));
  return key[0] === 'u' ? { user_id: id } : { chat_id: id };
}

export function displayName(user) {
  if (!user) return '';
  return [user.first_name, user.last_name].filter(Boolean).join(' ');
}

export class Client extends EventTarget {
  constructor() {
    super();
    this.conn = new Connection();
    this.seq = new Sequencer(
      (method, params) => this.conn.call(method, params),
      (u) => this.applyUpdate(u),
    );
    this.seq.onSyncing = () => this.emit('status');
    this.chanSeqs = new Map(); // chat id -> ChannelSequencer
    this.mediaUrls = new MediaUrls((method, params) => this.conn.call(method, params));
    this.uploads = [];
    this.token = null;
    this.me = null;
    this.outbox = null;
    this.resetState();
    this.conn.addEventListener('status', () => this.emit('status'));
    this.conn.addEventListener('open', () => this.onOpen());
    this.conn.addEventListener('push', (e) => this.onPush(e.detail.updates));
    this.conn.addEventListener('unauthorized', () => this.forget());
    this.conn.addEventListener('state', (e) => {
      if (this.seq.pts !== null && e.detail.pts > this.seq.pts) this.seq.catchUp();
      // A lost post with nothing after it would go unnoticed: look at the open chat's log.
      if (this.openKey?.[0] === 'c') this.chanSeqs.get(Number(this.openKey.slice(1)))?.catchUp();
    });
    window.addEventListener('storage', (e) => {
      if (this.outbox && e.key === this.outbox.key) {
        this.outbox.reload();
        this.emit('dialogs');
        this.emit('messages', this.openKey);
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.openKey) this.markRead(this.openKey);
      this.sendPresence();
    });
  }

  resetState() {
    this.users = new Map();
    this.chats = new Map(); // chat id -> Chat as the viewer sees it (role, rights)
    this.dialogs = new Map(); // key -> {peer, top_message, read_inbox_max_id, ..., pts}
    this.histories = new Map(); // key -> {messages: Map, loaded, minId, complete, loading}
    this.extra = new Map(); // "key:id" -> a message fetched for a reply quote
    this.privKeys = new Map(); // private message id -> its chat key (deletes name ids only)
    this.typing = new Map(); // key -> Map(user id -> timer)
    this.statuses = new Map(); // user id -> {type: online|offline|empty, ...} (docs/api.md)
    clearTimeout(this.statusTimer); // asks again when the open chat's online status lapses
    this.echoed = new Map(); // random_id -> message id (our send, seen before its answer)
    this.deletedIds = new Set(); // "key:id" deleted while this page lives (reply quotes)
    this.replyLookups = new Map(); // "key:id" -> 'fetching' | 'deleted'
    this.myReactions = new Map(); // "key:id" -> the emoji this user chose here
    this.viewed = new Set(); // "key:id" of channel posts counted as viewed
    clearTimeout(this.muteTimer); // core/dialogs.js: the next mute to run out
    for (const s of this.chanSeqs?.values() ?? []) s.gone = true;
    this.chanSeqs = new Map();
    for (const u of this.uploads ?? []) u.cancel();
    this.uploads = [];
    this.mediaUrls?.clear();
    this.ready = false;
    this.openKey = null;
    this.flushing = null;
    this.loadingDialogs = null;
    this.seq.reset();
  }

  emit(what, key = null) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, key } }));
  }

  /** 'offline' | 'connecting' | 'updating' | 'online' for the banner. */
  get status() {
    if (this.conn.status === 'offline') return 'offline';
    if (this.conn.status !== 'open') return 'connecting';
    if (this.token && (!this.ready || this.seq.syncing)) return 'updating';
    return 'online';
  }

  /** Resolves when connected and synced (or signed out). */
  whenOnline() {
    if (this.status === 'online' || !this.token) return Promise.resolve();
    return new Promise((resolve) => {
      const on = () => {
        if (this.status === 'online' || !this.token) {
          this.removeEventListener('change', on);
          resolve();
        }
      };
      this.addEventListener('change', on);
    });
  }

  // -- sign-in ------------------------------------------------------------------------
  boot() {
    try {
      const saved = JSON.parse(localStorage.getItem(AUTH_KEY) ?? 'null');
      if (saved?.token && saved?.user) this.adopt(saved.token, saved.user);
    } catch {
      localStorage.removeItem(AUTH_KEY);
    }
    this.conn.start(this.token);
  }

  get signedIn() {
    return this.token !== null;
  }

  adopt(token, user) {
    this.token = token;
    this.me = user;
    this.users.set(user.id, user);
    this.outbox = new Outbox(`chapar.outbox.${user.id}`);
  }

  sendCode(phone) {
    return this.conn.call('auth.sendCode', { phone });
  }

  resendCode(phone, hash) {
    return this.conn.call('auth.resendCode', { phone, phone_code_hash: hash });
  }

  /** Signs in, or throws: PHONE_NUMBER_UNOCCUPIED (sign up), SESSION_PASSWORD_NEEDED… */
  async signIn(phone, hash, code) {
    const auth = await this.conn.call('auth.signIn', this.authParams(phone, hash, code));
    this.signedInAs(auth);
  }

  async signUp(phone, hash, code, firstName, lastName) {
    const params = { ...this.authParams(phone, hash, code), first_name: firstName };
    if (lastName) params.last_name = lastName;
    this.signedInAs(await this.conn.call('auth.signUp', params));
  }

  /** The two-step password's hint, after signIn answered SESSION_PASSWORD_NEEDED. */
  passwordHint(phone, hash) {
    return this.conn.call('auth.getPassword', { phone, phone_code_hash: hash });
  }

  async checkPassword(phone, hash, password) {
    const { code: _, ...params } = this.authParams(phone, hash, '');
    this.signedInAs(await this.conn.call('auth.checkPassword', { ...params, password }));
  }

  requestRecovery(phone, hash) {
    return this.conn.call('auth.requestPasswordRecovery', { phone, phone_code_hash: hash });
  }

  async recoverPassword(phone, hash, code) {
    const params = this.authParams(phone, hash, code);
    this.signedInAs(await this.conn.call('auth.recoverPassword', params));
  }

  authParams(phone, hash, code) {
    const ua = navigator.userAgent;
    const browser = /Firefox\//.test(ua)
      ? 'Firefox'
      : /Edg\//.test(ua)
        ? 'Edge'
        : /Chrom(e|ium)\//.test(ua)
          ? 'Chromium'
          : /Safari\//.test(ua)
            ? 'Safari'
            : 'Browser';
    const os = navigator.userAgentData?.platform || navigator.platform || '';
    return {
      phone,
      phone_code_hash: hash,
      code,
      device: `${browser}${os ? ` on ${os}` : ''}`,
      app: 'Chapar Web',
    };
  }

  signedInAs({ token, user }) {
    this.resetState();
    this.adopt(token, user);
    this.saveAuth();
    this.conn.setToken(token);
    this.emit('auth');
  }

  saveAuth() {
    localStorage.setItem(AUTH_KEY, JSON.stringify({ token: this.token, user: this.me }));
  }

  async logOut() {
    try {
      await this.conn.call('auth.logOut', {}, { timeout: 5000 });
    } catch {
      // signed out here either way; the session ends on the server when it is reached
    }
    this.outbox?.clear();
    this.forget();
  }

  /** Drop the session locally (logged out, or the server no longer knows the token). */
  forget() {
    if (!this.token) return;
    localStorage.removeItem(AUTH_KEY);
    this.token = null;
    this.me = null;
    this.outbox = null;
    this.resetState();
    this.conn.setToken(null);
    this.emit('auth');
  }

  // -- connection and sync --------------------------------------------------------------
  /**
   * An update with a top-level chat_id and a pts belongs to that group's or channel's own
   * log (its ChannelSequencer); any other with a pts to the user's log; `updatesTooLong`
   * means pushes were lost: catch up everything, as after a reconnect.
   */
  onPush(updates) {
    const mine = [];
    for (const u of updates) {
      if (u.type === 'updatesTooLong') this.resyncAll();
      else if (u.chat_id != null && typeof u.pts === 'number') this.chanSeq(u.chat_id).feed([u]);
      else mine.push(u);
    }
    if (mine.length) this.seq.feed(mine);
  }

  async onOpen() {
    if (!this.token) return;
    if (document.visibilityState === 'hidden') this.sendPresence();
    if (!this.ready) {
      await this.loadDialogs();
    } else {
      await this.resyncAll();
    }
    this.flushOutbox();
  }

  /** After a reconnect (or lost pushes): the user's log, then every chat that moved. */
  async resyncAll() {
    await this.seq.catchUp();
    await this.refreshChats();
  }

  loadDialogs() {
    // One at a time: a call cut off by a reconnect is repeated, not started twice.
    this.loadingDialogs ??= this.fetchDialogs().finally(() => {
      this.loadingDialogs = null;
    });
    return this.loadingDialogs;
  }

  async fetchDialogs() {
    let res;
    try {
      res = await this.conn.call('messages.getDialogs', { limit: 100 });
    } catch (e) {
      // A dropped socket tries again on the next connect; a server error, in a moment.
      if (e.type !== 'CONNECTION_LOST' && this.token) {
        setTimeout(() => {
          if (this.token && !this.ready && this.conn.status === 'open') this.onOpen();
        }, 2000);
      }
      return;
    }
    this.addUsers(res.users);
    this.addChats(res.chats);
    for (const m of res.messages) this.addMessage(this.normalize(m), false);
    for (const d of res.dialogs) {
      const key = peerKeyOf(d.peer);
      this.dialogs.set(key, { ...d });
      if (d.peer.chat_id != null) this.chanSeq(d.peer.chat_id).start(d.pts ?? 0);
    }
    this.notePinOrder(res.dialogs);
    this.ready = true;
    this.seq.start(res.state.pts);
    this.emit('dialogs');
    this.emit('status');
    if (this.openKey) this.openChat(this.openKey);
  }

  // -- state helpers --------------------------------------------------------------------
  addUsers(users) {
    for (const u of users) {
      const known = this.users.get(u.id);
      this.users.set(u.id, known ? { ...known, ...u } : u);
      if (u.is_self && this.me) {
        this.me = { ...this.me, ...u };
        this.saveAuth();
      }
    }
  }

  user(id) {
    const u = this.users.get(id);
    if (!u) this.fetchUser(id);
    return u;
  }

  async fetchUser(id) {
    this.fetchingUsers ??= new Set();
    if (this.fetchingUsers.has(id)) return;
    this.fetchingUsers.add(id);
    try {
      const full = await this.conn.call('users.getFullUser', { user_id: id });
      this.addUsers([full.user]);
      this.emit('dialogs');
      this.emit('messages', this.openKey);
    } catch {
      // shown by id until a later try
    } finally {
      this.fetchingUsers.delete(id);
    }
  }

  peerOf(key) {
    return peerOfKey(key);
  }

  history(key) {
    let h = this.histories.get(key);
    if (!h) {
      h = { messages: new Map(), loaded: false, minId: 0, complete: false, loading: false };
      this.histories.set(key, h);
    }
    return h;
  }

  dialog(key) {
    let d = this.dialogs.get(key);
    if (!d) {
      d = {
        peer: peerOfKey(key),
        top_message: 0,
        read_inbox_max_id: 0,
        read_outbox_max_id: 0,
        unread_count: 0,
      };
      this.dialogs.set(key, d);
    }
    return d;
  }

  /** A message of a chat: from its history, or one fetched for a reply quote. */
  msg(key, id) {
    return this.histories.get(key)?.messages.get(id) ?? this.extra.get(`${key}:${id}`);
  }

  /** Chat posts pushed to every member carry no `out`: it is whether we sent it. */
  normalize(m) {
    if (m.peer.chat_id != null) m.out = !!this.me && m.from_id === this.me.id;
    return m;
  }

  /** Store a message; with `live`, it is news: it moves its chat up and may count unread. */
  addMessage(m, live = true) {
    const key = peerKeyOf(m.peer);
    const h = this.history(key);
    const known = h.messages.has(m.id);
    h.messages.set(m.id, m);
    this.extra.delete(`${key}:${m.id}`);
    if (key[0] === 'u') this.privKeys.set(m.id, key);
    if (!live) return key;
    const d = this.dialog(key);
    if (m.id > d.top_message) d.top_message = m.id;
    if (!known && !m.out && m.id > d.read_inbox_max_id) d.unread_count += 1;
    return key;
  }

  /** Private deletes name ids of the user's box only. */
  removeMessages(ids) {
    const byKey = new Map();
    for (const id of ids) {
      const key = this.privKeys.get(id);
      if (!key) continue;
      if (!byKey.has(key)) byKey.set(key, []);
      byKey.get(key).push(id);
    }
    for (const [key, list] of byKey) this.removeFrom(key, list);
  }

  removeFrom(key, ids) {
    const h = this.histories.get(key);
    for (const id of ids) {
      this.deletedIds.add(`${key}:${id}`);
      h?.messages.delete(id);
      this.extra.delete(`${key}:${id}`);
      if (key[0] === 'u') this.privKeys.delete(id);
    }
    const d = this.dialogs.get(key);
    if (d && !this.msg(key, d.top_message)) this.refreshTop(key);
    this.emit('messages', key);
    this.emit('dialogs');
  }

  /** The chat's last message was deleted: find the one before it. */
  async refreshTop(key) {
    const d = this.dialogs.get(key);
    const ids = [...this.history(key).messages.keys()];
    if (ids.length) {
      d.top_message = Math.max(...ids);
      return;
    }
    try {
      const res = await this.conn.call('messages.getHistory', { peer: d.peer, limit: 1 });
      if (res.messages.length) {
        this.addMessage(this.normalize(res.messages[0]), false);
        d.top_message = res.messages[0].id;
      } else if (key[0] === 'u') {
        this.dialogs.delete(key);
      } else {
        d.top_message = 0;
      }
      this.emit('dialogs');
    } catch {
      // kept as it is until the next load
    }
  }

  setTypingShown(key, userId, on) {
    let who = this.typing.get(key);
    clearTimeout(who?.get(userId));
    who?.delete(userId);
    if (on) {
      if (!who) this.typing.set(key, (who = new Map()));
      who.set(
        userId,
        setTimeout(() => this.setTypingShown(key, userId, false), TYPING_SHOWN_MS),
      );
    }
    if (who && !who.size) this.typing.delete(key);
    this.emit('typing', key);
  }

  isTyping(key) {
    return this.typing.has(key);
  }

  // -- presence: online / last seen of the people one chats with ------------------------
  /** A new socket counts as online; a tab in the background says it is not. */
  sendPresence() {
    if (!this.token || this.conn.status !== 'open') return;
    const offline = document.visibilityState === 'hidden';
    this.conn.call('account.updateStatus', { offline }).catch(() => {});
  }

  loadStatus(userId) {
    if (userId === this.me?.id || !this.token) return;
    this.conn
      .call('users.getStatuses', { user_ids: [userId] })
      .then((r) => r.statuses.forEach((s) => this.setStatus(s.user_id, s.status)))
      .catch(() => {});
  }

  setStatus(userId, status) {
    this.statuses.set(userId, status);
    // Lease renewals are not pushed: past `expires`, ask again for the open chat.
    if (status.type === 'online' && this.openKey === `u${userId}`) {
      clearTimeout(this.statusTimer);
      const wait = Math.max(1000, status.expires * 1000 - Date.now() + 1000);
      this.statusTimer = setTimeout(() => {
        if (this.openKey === `u${userId}`) this.loadStatus(userId);
      }, wait);
    }
    this.emit('typing', `u${userId}`); // redraws the chat header's status line
  }

  /** Who is typing in a chat (user ids). */
  typers(key) {
    return [...(this.typing.get(key)?.keys() ?? [])];
  }

  // -- updates of the user's log ----------------------------------------------------------
  applyUpdate(u) {
    switch (u.type) {
      case 'updateNewMessage': {
        const m = u.message;
        const key = peerKeyOf(m.peer);
        if (m.out) this.noteEcho(m);
        else if (this.typing.get(key)?.has(m.from_id)) this.setTypingShown(key, m.from_id, false);
        this.addMessage(m);
        if (m.peer.user_id != null) this.user(m.peer.user_id);
        this.readIfOpen(key, m);
        this.emit('messages', key);
        this.emit('dialogs');
        break;
      }
      case 'updateEditMessage': {
        const key = this.addMessage(u.message, false);
        this.emit('messages', key);
        this.emit('dialogs');
        break;
      }
      case 'updateDeleteMessages':
        this.removeMessages(u.messages);
        break;
      case 'updateReadHistoryInbox':
      case 'updateReadChannelInbox': {
        const d = this.dialog(peerKeyOf(u.peer));
        d.read_inbox_max_id = Math.max(d.read_inbox_max_id, u.max_id);
        d.unread_count = u.still_unread_count;
        this.emit('dialogs');
        break;
      }
      case 'updateReadHistoryOutbox': {
        const key = peerKeyOf(u.peer);
        const d = this.dialog(key);
        d.read_outbox_max_id = Math.max(d.read_outbox_max_id, u.max_id);
        this.emit('messages', key);
        this.emit('dialogs');
        break;
      }
      case 'updateUserName': {
        const { user_id, first_name, last_name, username } = u;
        this.addUsers([{ id: user_id, first_name, last_name, username: username ?? undefined }]);
        if (this.me && user_id === this.me.id) {
          this.me = { ...this.me, first_name, last_name, username: username ?? undefined };
          this.saveAuth();
          this.emit('me');
        }
        this.emit('dialogs');
        break;
      }
      case 'updateUserStatus':
        this.setStatus(u.user_id, u.status);
        break;
      case 'updateUserTyping':
        this.setTypingShown(`u${u.user_id}`, u.user_id, u.action === 'typing');
        break;
      case 'updateChatUserTyping':
        if (u.user_id !== this.me?.id) {
          this.setTypingShown(peerKeyOf(u.peer), u.user_id, u.action === 'typing');
        }
        break;
      case 'updateChannel':
        this.onChannelUpdate(u);
        break;
      case 'updateDialogPinned':
        this.applyPinned(peerKeyOf(u.peer), u.pinned);
        break;
      case 'updateNotifySettings':
        this.applyMuted(peerKeyOf(u.peer), u.mute_until > Date.now() / 1000 ? u.mute_until : 0);
        break;
      default:
        // A type this version does not know: its pts still counts (the Sequencer moved on).
        break;
    }
  }

  readIfOpen(key, m) {
    if (!m.out && key === this.openKey && document.visibilityState === 'visible') {
      this.markRead(key);
    }
  }

  // -- chats ----------------------------------------------------------------------------
  /** The chats for the list, pinned first, then newest first, each with what a row shows. */
  chatList() {
    const rows = new Map();
    for (const [key, d] of this.dialogs) {
      const top = this.msg(key, d.top_message);
      rows.set(key, { key, dialog: d, top, pending: null, date: top?.date ?? 0 });
    }
    const pending = [
      ...(this.outbox?.items ?? []).filter((i) => !this.echoed.has(i.random_id)),
      ...this.uploads.map((u) => ({ peer: u.peer, text: u.caption, date: u.date, upload: u })),
    ];
    for (const item of pending) {
      const key = peerKeyOf(item.peer);
      const row = rows.get(key) ?? { key, dialog: this.dialog(key), top: null, date: 0 };
      if (item.date >= row.date) Object.assign(row, { pending: item, date: item.date });
      rows.set(key, row);
    }
    return [...rows.values()]
      .filter((r) => r.top || r.pending || r.key[0] === 'c')
      .sort((a, b) => this.compareRows(a, b));
  }

  /** The user a private chat is with (null for groups and channels). */
  chatUser(key) {
    return key[0] === 'u' ? this.user(Number(key.slice(1))) : null;
  }

  setOpenChat(key) {
    this.openKey = key;
    if (key) this.openChat(key);
  }

  async openChat(key) {
    if (key[0] === 'u') this.loadStatus(Number(key.slice(1)));
    const h = this.history(key);
    if (!h.loaded) await this.loadHistory(key);
    this.markRead(key);
  }

  /** The newest page when first opened, then older pages as the user scrolls up. */
  async loadHistory(key, older = false) {
    const h = this.history(key);
    if (h.loading || (older && h.complete) || !this.ready) return;
    h.loading = true;
    this.emit('messages', key);
    const params = { peer: peerOfKey(key), limit: HISTORY_PAGE };
    if (older) params.offset_id = h.minId;
    try {
      const res = await this.conn.call('messages.getHistory', params);
      this.addUsers(res.users);
      const ids = res.messages.map((m) => m.id);
      const minId = ids.length ? Math.min(...ids) : 0;
      if (!older && ids.length === HISTORY_PAGE) {
        // Only what follows on from this page is known to be complete.
        for (const id of h.messages.keys()) if (id < minId) h.messages.delete(id);
      }
      for (const m of res.messages) this.addMessage(this.normalize(m), false);
      h.minId = minId || h.minId;
      h.complete = ids.length < HISTORY_PAGE;
      h.loaded = true;
      const d = this.dialogs.get(key);
      if (d && ids.length) d.top_message = Math.max(d.top_message, ...ids);
      if (d) this.emit('dialogs');
    } catch (e) {
      if (e.isRejection && key[0] === 'c') h.denied = e.type;
    } finally {
      h.loading = false;
      this.emit('messages', key);
    }
  }

  /** The messages of a chat, oldest first, with the unsent ones after them. */
  messagesOf(key) {
    const h = this.history(key);
    const msgs = [...h.messages.values()].sort((a, b) => a.id - b.id);
    const pending = (this.outbox?.forPeer(key) ?? []).filter((i) => !this.echoed.has(i.random_id));
    const uploads = this.uploads.filter((u) => u.key === key);
    return {
      messages: msgs,
      pending,
      uploads,
      loading: h.loading,
      complete: h.complete,
      loaded: h.loaded,
      denied: h.denied ?? null,
    };
  }

  /**
   * The message a reply points at: the message, null while it is being fetched, or
   * 'deleted' when it no longer exists.
   */
  replied(key, id) {
    const m = this.msg(key, id);
    if (m) return m;
    const fk = `${key}:${id}`;
    const known = this.replyLookups.get(fk);
    if (known === 'deleted' || (known === undefined && this.deletedIds.has(fk))) return 'deleted';
    if (known === undefined) {
      this.replyLookups.set(fk, 'fetching');
      this.conn
        .call('messages.getHistory', { peer: peerOfKey(key), offset_id: id + 1, limit: 1 })
        .then((res) => {
          const found = res.messages.find((x) => x.id === id);
          if (found) {
            this.extra.set(fk, this.normalize(found));
            this.replyLookups.delete(fk);
          } else {
            this.replyLookups.set(fk, 'deleted');
          }
          this.emit('messages', key);
        })
        .catch(() => this.replyLookups.delete(fk));
    }
    return null;
  }

  // -- writing --------------------------------------------------------------------------
  send(key, text, replyTo = null) {
    const item = this.outbox.add({ peer: peerOfKey(key), text, reply_to: replyTo });
    this.emit('messages', key);
    this.emit('dialogs');
    this.flushOutbox();
    return item;
  }

  /** Files dropped, pasted or picked: each is uploaded in parts and sent as it finishes. */
  sendFiles(key, files, caption = '', replyTo = null) {
    for (const [i, file] of [...files].entries()) {
      const up = new Upload(this, key, file, i === 0 ? caption : '', i === 0 ? replyTo : null);
      this.uploads.push(up);
      up.run();
    }
    this.emit('messages', key);
    this.emit('dialogs');
  }

  /** A send's answer (message and pts) is the update it made: feed it to its log. */
  confirmSent(res) {
    const m = this.normalize(res.message);
    const key = this.addMessage(m);
    if (m.peer.chat_id != null) {
      const u = { type: 'updateNewChannelMessage', chat_id: m.peer.chat_id, message: m };
      this.chanSeq(m.peer.chat_id).feed([{ ...u, pts: res.pts }]);
    } else {
      this.seq.feed([{ type: 'updateNewMessage', message: m, pts: res.pts }]);
    }
    this.emit('messages', key);
    this.emit('dialogs');
  }

  /** Our own message came back through the log before its answer: hide its pending copy. */
  noteEcho(m) {
    const key = peerKeyOf(m.peer);
    const item = this.outbox?.items.find(
      (i) =>
        i.sending &&
        !this.echoed.has(i.random_id) &&
        peerKeyOf(i.peer) === key &&
        i.text.trim() === m.text &&
        (i.reply_to ?? null) === (m.reply_to ?? null),
    );
    if (item) this.echoed.set(item.random_id, m.id);
  }

  /** Send what the outbox holds, one at a time and in order, until it is empty. */
  async flushOutbox() {
    if (this.flushing || !this.outbox || !this.ready) return;
    const run = {};
    this.flushing = run;
    const outbox = this.outbox;
    try {
      for (;;) {
        const item = outbox.due()[0];
        if (!item || outbox !== this.outbox) break;
        item.sending = true;
        const params = { peer: item.peer, text: item.text, random_id: item.random_id };
        if (item.reply_to) params.reply_to = item.reply_to;
        try {
          const res = await this.conn.call('messages.sendMessage', params, { timeout: 0 });
          outbox.remove(item.random_id);
          this.echoed.delete(item.random_id);
          this.confirmSent(res);
        } catch (e) {
          item.sending = false;
          if (e.type === 'FLOOD_WAIT') {
            await sleep((e.retry_after ?? 1) * 1000);
          } else if (e.isRejection) {
            this.echoed.delete(item.random_id);
            outbox.update(item.random_id, { failed: e.type });
            this.emit('messages', peerKeyOf(item.peer));
          } else if (e.type === 'CONNECTION_LOST') {
            break; // the client stopped (signed out)
          } else {
            await sleep(2000); // the server is briefly unavailable
          }
        }
      }
    } finally {
      if (this.flushing === run) this.flushing = null;
    }
  }

  retry(randomId) {
    this.outbox.update(randomId, { failed: null });
    this.emit('messages', this.openKey);
    this.flushOutbox();
  }

  discard(randomId) {
    const item = this.outbox.get(randomId);
    this.outbox.remove(randomId);
    if (item) this.emit('messages', peerKeyOf(item.peer));
    this.emit('dialogs');
  }

  async edit(key, id, text) {
    const res = await this.conn.call('messages.editMessage', { peer: peerOfKey(key), id, text });
    const m = this.normalize(res.message);
    this.addMessage(m, false);
    if (m.peer.chat_id != null) {
      const u = { type: 'updateEditChannelMessage', chat_id: m.peer.chat_id, message: m };
      this.chanSeq(m.peer.chat_id).feed([{ ...u, pts: res.pts }]);
    } else {
      this.seq.feed([{ type: 'updateEditMessage', message: m, pts: res.pts }]);
    }
    this.emit('messages', key);
    this.emit('dialogs');
  }

  async deleteMessages(key, ids, revoke) {
    const params = { id: ids, revoke };
    if (key[0] === 'c') params.peer = peerOfKey(key);
    const res = await this.conn.call('messages.deleteMessages', params);
    this.removeFrom(key, ids);
    if (key[0] === 'c') this.chanSeq(Number(key.slice(1))).expect(res.pts);
    else this.seq.expect(res.pts);
  }

  /** The open chat is read: at once here, and told to the server in one call per burst. */
  markRead(key) {
    const d = this.dialogs.get(key);
    if (!d || !this.ready || document.visibilityState !== 'visible') return;
    if (d.unread_count === 0 && d.read_inbox_max_id >= d.top_message) return;
    const top = this.msg(key, d.top_message);
    if (top?.out && d.unread_count === 0) return;
    d.unread_count = 0;
    d.read_inbox_max_id = d.top_message;
    this.emit('dialogs');
    this.readTimers ??= new Map();
    clearTimeout(this.readTimers.get(key));
    this.readTimers.set(
      key,
      setTimeout(async () => {
        this.readTimers.delete(key);
        try {
          const res = await this.conn.call('messages.readHistory', {
            peer: d.peer,
            max_id: d.read_inbox_max_id,
          });
          this.seq.expect(res.pts);
        } catch {
          // the unread count comes back with the next sync
        }
      }, 250),
    );
  }

  setTyping(key, action) {
    this.conn
      .call('messages.setTyping', { peer: peerOfKey(key), action }, { timeout: 5000 })
      .catch(() => {});
  }

  // -- people ---------------------------------------------------------------------------
  /**
   * Find a chat by what the user typed: an invite link (returns {invite: hash}), a phone
   * number, or an @username of a person or of a public group or channel ({key}).
   */
  async findPeer(query) {
    const q = query.trim();
    const invite = inviteHash(q);
    if (invite) return { invite };
    const phoneLike = /^[+0-9۰-۹٠-٩\s()-]{5,}$/.test(q) && !q.startsWith('@');
    if (phoneLike) {
      const res = await this.conn.call('contacts.importContacts', {
        contacts: [{ phone: q, first_name: '' }],
      });
      if (!res.imported.length) throw new ApiError(400, 'NOT_ON_CHAPAR', '');
      this.addUsers(res.users);
      return { key: `u${res.imported[0].user_id}` };
    }
    const username = q.replace(/^@/, '').replace(/^.*\/(?=[^/]+$)/, '');
    const res = await this.conn.call('contacts.resolveUsername', { username });
    if (res.user) this.addUsers([res.user]);
    if (res.chat) this.addChats([res.chat]);
    return { key: peerKeyOf(res.peer) };
  }

  async updateProfile(fields) {
    this.setMe(await this.conn.call('account.updateProfile', fields));
  }

  async updateUsername(username) {
    this.setMe(await this.conn.call('account.updateUsername', { username }));
  }

  setMe(user) {
    this.me = { ...this.me, ...user };
    if (!user.username) delete this.me.username;
    this.users.set(user.id, this.me);
    this.saveAuth();
    this.emit('me');
  }

  async about() {
    const full = await this.conn.call('users.getFullUser', { user_id: this.me.id });
    return full.about;
  }

  async sessions() {
    return (await this.conn.call('account.getAuthorizations', {})).authorizations;
  }

  resetSession(id) {
    return this.conn.call('account.resetAuthorization', { id });
  }

  // -- two-step verification ------------------------------------------------------------
  passwordSettings() {
    return this.conn.call('account.getPassword', {});
  }

  updatePassword(params) {
    return this.conn.call('account.updatePasswordSettings', params);
  }

  confirmPasswordEmail(code) {
    return this.conn.call('account.confirmPasswordEmail', { code });
  }
}

Object.assign(Client.prototype, chatMethods, dialogMethods);

/** The hash of an invite link (".../join/<hash>"), or null. */
export function inviteHash(text) {
  const m = /(?:^|\/)join\/([A-Za-z0-9_-]+)\/?$/.exec(String(text).trim());
  return m ? m[1] : null;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
