// Groups and channels in the client core (mixed into Client): one ChannelSequencer per chat
// for its own log, the rules that apply that log's updates, and the actions (create, join,
// members and rights, reactions, pins, views, forwarding, search). See docs/chats.md.

import { newRandomId, peerKeyOf } from './outbox.js';
import { ChannelSequencer } from './sync.js';

const DIALOGS_PAGE = 100;
const CHAT_REFRESH_MS = 500;
const MEMBERSHIP_ACTIONS = new Set([
  'chat_add_user',
  'chat_join',
  'chat_leave',
  'chat_delete_user',
]);
const VIEWS_BATCH = 100;
// What "promote" grants: Telegram's default admin, without the right to add admins.
const GROUP_ADMIN = {
  change_info: true,
  delete_messages: true,
  ban_users: true,
  invite_users: true,
  pin_messages: true,
};
const CHANNEL_ADMIN = { ...GROUP_ADMIN, post_messages: true, edit_messages: true };
const ALL_RIGHTS = {
  ...CHANNEL_ADMIN,
  add_admins: true,
};

export function isMember(chat) {
  return chat?.role === 'creator' || chat?.role === 'admin' || chat?.role === 'member';
}

/** The viewer's admin rights in a chat ({} for members). */
export function rightsIn(chat) {
  if (chat?.role === 'creator') return ALL_RIGHTS;
  if (chat?.role === 'admin') return chat.admin_rights ?? {};
  return {};
}

export const chatMethods = {
  /** The group or channel of a key ('c12'), if known. */
  chat(key) {
    return key?.[0] === 'c' ? this.chats.get(Number(key.slice(1))) : undefined;
  },

  addChats(chats) {
    for (const c of chats) {
      const known = this.chats.get(c.id);
      const merged = known ? { ...known, ...c } : { ...c };
      // Fields a Chat omits when empty (omit_defaults) are cleared, not kept.
      for (const k of ['username', 'admin_rights', 'pinned_msg_id'])
        if (!(k in c)) delete merged[k];
      this.chats.set(c.id, merged);
    }
  },

  /** May the viewer write in this chat? */
  canPost(key) {
    if (key[0] === 'u') return true;
    const c = this.chat(key);
    if (!isMember(c)) return false;
    return c.type === 'group' || !!rightsIn(c).post_messages;
  },

  chanSeq(chatId) {
    let s = this.chanSeqs.get(chatId);
    if (!s) {
      const key = `c${chatId}`;
      s = new ChannelSequencer(
        chatId,
        (method, params) => this.conn.call(method, params),
        (u) => this.applyChatUpdate(u),
        {
          onTooLong: () => this.reloadChat(key),
          onGone: () => this.dropChat(chatId),
        },
      );
      s.onSyncing = () => this.emit('status');
      this.chanSeqs.set(chatId, s);
    }
    return s;
  },

  /** After a reconnect: the dialogs list each chat's pts; catch up the chats that moved. */
  async refreshChats() {
    let res;
    try {
      res = await this.conn.call('messages.getDialogs', { limit: DIALOGS_PAGE });
    } catch {
      return; // the next reconnect tries again
    }
    this.addUsers(res.users);
    this.addChats(res.chats);
    const work = [];
    for (const d of res.dialogs) {
      if (d.peer.chat_id == null) continue;
      const s = this.chanSeq(d.peer.chat_id);
      if (s.pts === null || s.gone) {
        s.gone = false;
        this.adoptDialog(d, res.messages);
      } else if ((d.pts ?? 0) > s.pts) {
        work.push(s.catchUp());
      }
    }
    await Promise.all(work);
    this.emit('dialogs');
  },

  /** A chat dialog this client did not know (joined on another device while away). */
  adoptDialog(d, messages) {
    const key = peerKeyOf(d.peer);
    for (const m of messages)
      if (peerKeyOf(m.peer) === key) this.addMessage(this.normalize(m), false);
    this.dialogs.set(key, { ...d });
    this.chanSeq(d.peer.chat_id).start(d.pts ?? 0);
  },

  /** Joined, created or invited: follow the chat's log from now and show its recent past. */
  adoptChat(chat) {
    this.addChats([chat]);
    const key = `c${chat.id}`;
    const d = this.dialog(key);
    d.pts = chat.pts;
    const s = this.chanSeq(chat.id);
    if (s.pts === null || s.gone) {
      s.gone = false;
      s.start(chat.pts);
      const h = this.history(key);
      h.loaded = false;
      h.denied = null;
      this.loadHistory(key);
    }
    this.emit('dialogs');
    this.emit('chat', key);
    this.emit('messages', key);
    return key;
  },

  /** Left, removed or banned: the chat leaves the list. */
  dropChat(chatId) {
    const key = `c${chatId}`;
    const s = this.chanSeqs.get(chatId);
    if (s) {
      s.gone = true;
      s.reset();
    }
    this.chanSeqs.delete(chatId);
    this.dialogs.delete(key);
    this.histories.delete(key);
    const c = this.chats.get(chatId);
    if (c) this.chats.set(chatId, { ...c, role: null, admin_rights: undefined });
    this.emit('dialogs');
    this.emit('chat', key);
    this.emit('messages', key);
  },

  /** Too far behind (too_long): the recent history replaces what was shown. */
  async reloadChat(key) {
    const h = this.history(key);
    h.messages.clear();
    h.loaded = false;
    h.complete = false;
    await this.loadHistory(key);
  },

  /** updateChannel, in the user's own log: membership or rights changed. */
  onChannelUpdate(u) {
    const id = u.peer.chat_id;
    if (!u.chat || !isMember(u.chat)) {
      if (u.chat) this.addChats([u.chat]);
      this.dropChat(id);
      return;
    }
    this.adoptChat(u.chat);
  },

  /** One update of a chat's own log, in order. */
  applyChatUpdate(u) {
    const key = `c${u.chat_id}`;
    switch (u.type) {
      case 'updateNewChannelMessage': {
        const m = this.normalize(u.message);
        if (m.out) this.noteEcho(m);
        else if (this.typing.get(key)?.has(m.from_id)) this.setTypingShown(key, m.from_id, false);
        this.addMessage(m);
        this.readIfOpen(key, m);
        if (MEMBERSHIP_ACTIONS.has(m.action?.type)) this.refreshChatSoon(key);
        this.emit('messages', key);
        this.emit('dialogs');
        break;
      }
      case 'updateEditChannelMessage':
        this.addMessage(this.normalize(u.message), false);
        this.emit('messages', key);
        this.emit('dialogs');
        break;
      case 'updateDeleteChannelMessages':
        this.removeFrom(key, u.messages);
        break;
      case 'updateChannelMessageReactions': {
        const m = this.msg(key, u.msg_id);
        if (m) m.reactions = u.reactions.length ? u.reactions : undefined;
        this.emit('messages', key);
        break;
      }
      case 'updatePinnedChannelMessage': {
        const c = this.chats.get(u.chat_id);
        if (c) {
          if (u.msg_id) c.pinned_msg_id = u.msg_id;
          else delete c.pinned_msg_id;
        }
        this.emit('chat', key);
        this.emit('messages', key);
        break;
      }
      case 'updateChatInfo': {
        const c = this.chats.get(u.chat_id);
        if (c) {
          const { title, about, slow_mode_seconds, signatures } = u;
          Object.assign(c, { title, about, slow_mode_seconds, signatures });
          if (u.username) c.username = u.username;
          else delete c.username;
        }
        this.emit('chat', key);
        this.emit('dialogs');
        this.emit('messages', key);
        break;
      }
      default:
        break;
    }
  },

  /** Someone joined or left: the member count comes fresh from the server, once a burst. */
  refreshChatSoon(key) {
    this.chatRefresh ??= new Map();
    if (this.chatRefresh.has(key)) return;
    this.chatRefresh.set(
      key,
      setTimeout(() => {
        this.chatRefresh.delete(key);
        if (isMember(this.chat(key))) this.loadChat(key).catch(() => {});
      }, CHAT_REFRESH_MS),
    );
  },

  // -- finding and joining --------------------------------------------------------------
  /** A chat's details (and the viewer's standing), e.g. for a public one not joined. */
  async loadChat(key) {
    const res = await this.conn.call('channels.getFullChannel', { channel: this.peerOf(key) });
    this.addChats([res.chat]);
    this.emit('chat', key);
    return res.chat;
  },

  async joinChat(key) {
    const res = await this.conn.call('channels.joinChannel', { channel: this.peerOf(key) });
    return this.adoptChat(res.chat);
  },

  async joinByInvite(hash) {
    const res = await this.conn.call('messages.importChatInvite', { hash });
    return this.adoptChat(res.chat);
  },

  async leaveChat(key) {
    await this.conn.call('channels.leaveChannel', { channel: this.peerOf(key) });
    this.dropChat(Number(key.slice(1)));
  },

  /** A new group (broadcast false) or channel, with the people to add; returns its key. */
  async createChat({ title, about = '', broadcast, users = [] }) {
    const res = await this.conn.call('channels.createChannel', { title, about, broadcast });
    const key = this.adoptChat(res.chat);
    if (users.length) await this.invite(key, users);
    return key;
  },

  async invite(key, userIds) {
    const res = await this.conn.call('channels.inviteToChannel', {
      channel: this.peerOf(key),
      users: userIds,
    });
    this.addChats([res.chat]);
    this.emit('chat', key);
  },

  async exportInvite(key) {
    const res = await this.conn.call('messages.exportChatInvite', { peer: this.peerOf(key) });
    return new URL(res.link, location.origin).href;
  },

  // -- members and rights ---------------------------------------------------------------
  async members(key, filter = 'recent') {
    const res = await this.conn.call('channels.getParticipants', {
      channel: this.peerOf(key),
      filter,
      limit: 200,
    });
    this.addUsers(res.users);
    return res;
  },

  /** Make a member an admin with the default rights (those the viewer may grant), or not. */
  async setAdmin(key, userId, on) {
    const c = this.chat(key);
    const wanted = c?.type === 'channel' ? CHANNEL_ADMIN : GROUP_ADMIN;
    const mine = rightsIn(c);
    const rights = {};
    if (on) for (const [k, v] of Object.entries(wanted)) if (v && mine[k]) rights[k] = true;
    await this.conn.call('channels.editAdmin', {
      channel: this.peerOf(key),
      user_id: userId,
      admin_rights: rights,
    });
  },

  /** Remove someone for good (Telegram's ban: they cannot come back by link). */
  async ban(key, userId) {
    await this.conn.call('channels.editBanned', {
      channel: this.peerOf(key),
      user_id: userId,
      banned_rights: { view_messages: true },
    });
  },

  async editChatTitle(key, title) {
    const res = await this.conn.call('channels.editTitle', { channel: this.peerOf(key), title });
    this.addChats([res.chat]);
    this.emit('chat', key);
    this.emit('dialogs');
  },

  async setChatUsername(key, username) {
    const res = await this.conn.call('channels.updateUsername', {
      channel: this.peerOf(key),
      username,
    });
    this.addChats([res.chat]);
    this.emit('chat', key);
  },

  /** Channels: sign posts with their author's name, or not. */
  async toggleSignatures(key, enabled) {
    const res = await this.conn.call('channels.toggleSignatures', {
      channel: this.peerOf(key),
      enabled,
    });
    this.addChats([res.chat]);
    this.emit('chat', key);
  },

  // -- reactions, pins, views, forwarding -----------------------------------------------
  /** Set this user's reaction to a message ('' takes it back). */
  async react(key, id, emoji) {
    const fk = `${key}:${id}`;
    const res = await this.conn.call('messages.sendReaction', {
      peer: this.peerOf(key),
      msg_id: id,
      reaction: emoji,
    });
    if (emoji) this.myReactions.set(fk, emoji);
    else this.myReactions.delete(fk);
    const m = this.msg(key, id);
    if (m) m.reactions = res.reactions.length ? res.reactions : undefined;
    this.emit('messages', key);
  },

  async pin(key, id, unpin = false) {
    await this.conn.call('messages.updatePinnedMessage', { peer: this.peerOf(key), id, unpin });
  },

  /** Channel posts shown on screen count as viewed, once per page; the counts come back. */
  async viewPosts(key, ids) {
    const fresh = ids.filter((id) => !this.viewed.has(`${key}:${id}`)).slice(0, VIEWS_BATCH);
    if (!fresh.length) return;
    for (const id of fresh) this.viewed.add(`${key}:${id}`);
    try {
      const res = await this.conn.call('messages.getMessagesViews', {
        peer: this.peerOf(key),
        id: fresh,
        increment: true,
      });
      fresh.forEach((id, i) => {
        const m = this.msg(key, id);
        if (m && res.views[i] != null) m.views = Math.max(m.views ?? 0, res.views[i]);
      });
      this.emit('messages', key);
    } catch {
      for (const id of fresh) this.viewed.delete(`${key}:${id}`);
    }
  },

  async forward(fromKey, ids, toKey) {
    const res = await this.conn.call('messages.forwardMessages', {
      from_peer: this.peerOf(fromKey),
      id: ids,
      to_peer: this.peerOf(toKey),
      random_id: ids.map(() => newRandomId()),
    });
    for (const m of res.messages) this.addMessage(this.normalize(m));
    this.emit('messages', toKey);
    this.emit('dialogs');
  },

  // -- search ---------------------------------------------------------------------------
  /** Messages matching q, in every chat (or one), newest first. */
  async searchMessages(q, key = null) {
    const params = { q, limit: 30 };
    if (key) params.peer = this.peerOf(key);
    const res = await this.conn.call('messages.search', params);
    this.addUsers(res.users);
    this.addChats(res.chats);
    return res.messages.map((m) => this.normalize(m));
  },

  /** People (public usernames, contacts by name) and chats (public, or one's own). */
  async searchPeers(q) {
    const res = await this.conn.call('contacts.search', { q, limit: 20 });
    this.addUsers(res.users);
    this.addChats(res.chats);
    return res;
  },
};
