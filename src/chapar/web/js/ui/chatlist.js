// The chat list: one row per chat (people, groups, channels), pinned ones first, then
// newest first. The search box filters it at once and, from two letters on, also asks the
// server (contacts.search for people and public chats, messages.search for messages) and
// lists what it found below. A row's menu (right click, the context-menu key or Shift+F10)
// pins or unpins the chat and mutes or unmutes it.

import { displayName } from '../core/client.js';
import { MUTE_FOREVER } from '../core/dialogs.js';
import { errorText, fold, getLang, num, shortDate, t } from '../i18n.js';
import {
  chatAvatarOf,
  chatTitle,
  mediaLabel,
  previewText,
  senderName,
  typingText,
} from './describe.js';
import { avatar, chatAvatar, h, icon, reconcile } from './dom.js';
import { openMenu, toast } from './menu.js';

export { chatTitle };

const SEARCH_DELAY_MS = 300;
const SEARCH_MIN = 2;
const HOUR = 3600;

/** A small labelled mark (pinned, muted) in a chat row. */
function mark(name, cls, label) {
  const el = icon(name, { cls });
  el.removeAttribute('aria-hidden');
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', label);
  el.title = label;
  return el;
}

/** The little status mark of an own message: clock, one tick or two. */
export function statusMark(state) {
  if (state === 'failed') return icon('alert', { cls: 'status failed' });
  const name = { pending: 'clock', sent: 'check', read: 'checks' }[state];
  const el = icon(name, { cls: `status ${state}` });
  el.removeAttribute('aria-hidden');
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', t({ pending: 'sending', sent: 'sent', read: 'read' }[state]));
  return el;
}

/** The small people or megaphone mark before a group's or channel's name. */
export function kindMark(chat) {
  if (!chat) return null;
  const el = icon(chat.type === 'channel' ? 'megaphone' : 'people', { cls: 'chat-kind' });
  el.removeAttribute('aria-hidden');
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', t(chat.type === 'channel' ? 'channel' : 'group'));
  return el;
}

export class ChatList {
  constructor(client, onOpen, onUpdate = () => {}) {
    this.client = client;
    this.onOpen = onOpen;
    this.onUpdate = onUpdate;
    this.query = '';
    this.raw = '';
    this.remote = null; // {q, users, chats, messages} for the current query
    this.searchTimer = null;
    this.list = h('ul', { class: 'chat-list', 'aria-label': t('chats') });
    this.empty = h('p', { class: 'list-empty' });
    this.results = h('div', { class: 'search-results' });
    this.el = h('div', { class: 'chat-list-wrap' }, this.list, this.empty, this.results);
  }

  setQuery(q) {
    this.raw = q.trim();
    this.query = fold(q);
    clearTimeout(this.searchTimer);
    if (this.raw.length < SEARCH_MIN) {
      this.remote = null;
      return;
    }
    const asked = this.raw;
    this.searchTimer = setTimeout(() => this.searchRemote(asked), SEARCH_DELAY_MS);
  }

  async searchRemote(q) {
    const c = this.client;
    this.remote = { q, pending: true, users: [], chats: [], messages: [] };
    this.onUpdate();
    const [peers, messages] = await Promise.all([
      c.searchPeers(q).catch(() => ({ users: [], chats: [] })),
      c.searchMessages(q).catch(() => []),
    ]);
    if (this.raw !== q) return;
    this.remote = { q, pending: false, users: peers.users, chats: peers.chats, messages };
    this.onUpdate();
  }

  rows() {
    const c = this.client;
    return c.chatList().map((r) => {
      const chat = c.chat(r.key);
      const title = chatTitle(c, r.key);
      const d = r.dialog;
      let preview = '';
      let sender = '';
      let state = null;
      if (r.pending) {
        const up = r.pending.upload;
        const label = up && mediaLabel({ type: up.kind, name: up.file.name });
        preview = up ? (up.caption ? `${label}, ${up.caption}` : label) : r.pending.text;
        state = r.pending.failed || r.pending.upload?.state === 'failed' ? 'failed' : 'pending';
        if (chat?.type === 'group') sender = t('you');
      } else if (r.top) {
        preview = previewText(c, r.key, r.top);
        if (chat?.type === 'group' && !r.top.action) sender = senderName(c, r.top);
        if (r.top.out && chat?.type !== 'channel' && !r.top.action) {
          state = r.top.id <= d.read_outbox_max_id ? 'read' : 'sent';
        }
      }
      const isSelf = c.me && r.key === `u${c.me.id}`;
      const user = c.chatUser(r.key);
      return {
        key: r.key,
        chat,
        title,
        preview: preview.replace(/\s+/g, ' ').trim(),
        sender,
        state: isSelf ? null : state,
        date: r.date,
        unread: d.unread_count,
        pinned: c.isPinned(d),
        muted: c.isMuted(d),
        typing: c.isTyping(r.key) ? typingText(c, r.key) : null,
        haystack: fold(`${title} ${user?.username ?? ''} ${chat?.username ?? ''} ${preview}`),
      };
    });
  }

  render(selectedKey) {
    const rows = this.rows().filter((r) => !this.query || r.haystack.includes(this.query));
    // A row drawn anew or moved (pinned to the top) loses the focus: give it back.
    const focused = this.list.contains(document.activeElement)
      ? document.activeElement.closest('li')?.dataset.key
      : null;
    reconcile(this.list, rows, {
      key: (r) => r.key,
      sig: (r) =>
        JSON.stringify([
          r.title,
          r.preview,
          r.sender,
          r.state,
          r.date,
          r.unread,
          r.pinned,
          r.muted,
          r.typing,
          r.key === selectedKey,
          r.chat?.type,
          getLang(),
        ]),
      create: (r) => {
        const li = h('li');
        this.fill(li, r, selectedKey);
        return li;
      },
      update: (li, r) => this.fill(li, r, selectedKey),
    });
    if (focused && !this.list.contains(document.activeElement)) {
      const again = this.list.querySelector(`li[data-key="${focused}"] > .chat-row`);
      again?.focus({ preventScroll: true });
    }
    const searching = this.remote !== null;
    this.empty.textContent = rows.length ? '' : this.query ? t('noResults') : t('noChats');
    this.empty.hidden = rows.length > 0 || (searching && this.hasRemote(rows));
    this.renderResults(rows);
  }

  hasRemote(rows) {
    const r = this.remote;
    if (!r) return false;
    return r.pending || r.messages.length > 0 || this.peerResults(rows).length > 0;
  }

  /** People and chats the server found that are not in the list already. */
  peerResults(rows) {
    const r = this.remote;
    if (!r) return [];
    const shown = new Set(rows.map((x) => x.key));
    const me = this.client.me?.id;
    return [
      ...r.chats.map((c) => ({ key: `c${c.id}`, chat: c })),
      ...r.users.filter((u) => u.id !== me).map((u) => ({ key: `u${u.id}`, user: u })),
    ].filter((p) => !shown.has(p.key));
  }

  renderResults(rows) {
    const r = this.remote;
    if (!r) {
      this.results.replaceChildren();
      return;
    }
    const c = this.client;
    const peers = this.peerResults(rows);
    const sections = [];
    if (r.pending)
      sections.push(h('p', { class: 'search-status', role: 'status', text: t('searching') }));
    if (peers.length) {
      sections.push(
        h(
          'section',
          { class: 'search-section', 'aria-label': t('searchGlobal') },
          h('h3', { text: t('searchGlobal') }),
          h(
            'ul',
            { class: 'chat-list' },
            peers.map((p) => {
              const title = p.chat ? p.chat.title : displayName(p.user);
              const sub = p.chat?.username ?? p.user?.username;
              return h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'result-row',
                    dataset: { chat: p.key },
                    onclick: () => this.onOpen(p.key),
                  },
                  p.chat ? chatAvatar(p.chat) : avatar(p.user),
                  h(
                    'span',
                    { class: 'chat-main' },
                    h(
                      'span',
                      { class: 'chat-top' },
                      kindMark(p.chat),
                      h('span', { class: 'chat-name', dir: 'auto', text: title }),
                    ),
                    h(
                      'span',
                      { class: 'chat-bottom' },
                      h('bdi', { class: 'chat-preview', dir: 'ltr', text: sub ? `@${sub}` : '' }),
                    ),
                  ),
                ),
              );
            }),
          ),
        ),
      );
    }
    if (r.messages.length) {
      sections.push(
        h(
          'section',
          { class: 'search-section', 'aria-label': t('searchMessages') },
          h('h3', { text: t('searchMessages') }),
          h(
            'ul',
            { class: 'chat-list found-messages' },
            r.messages.map((m) => {
              const key = m.peer.chat_id != null ? `c${m.peer.chat_id}` : `u${m.peer.user_id}`;
              return h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'result-row',
                    dataset: { chat: key, msg: m.id },
                    onclick: () => this.onOpen(key, { jump: m.id }),
                  },
                  chatAvatarOf(c, key),
                  h(
                    'span',
                    { class: 'chat-main' },
                    h(
                      'span',
                      { class: 'chat-top' },
                      h('span', { class: 'chat-name', dir: 'auto', text: chatTitle(c, key) }),
                      h('span', { class: 'chat-time', text: shortDate(m.date) }),
                    ),
                    h(
                      'span',
                      { class: 'chat-bottom' },
                      h('span', {
                        class: 'chat-preview',
                        dir: 'auto',
                        text: previewText(c, key, m),
                      }),
                    ),
                  ),
                ),
              );
            }),
          ),
        ),
      );
    }
    this.results.replaceChildren(...sections);
  }

  fill(li, r, selectedKey) {
    const preview = r.typing
      ? h('span', { class: 'chat-preview typing', text: r.typing })
      : h(
          'span',
          { class: 'chat-preview', dir: 'auto' },
          r.sender && h('span', { class: 'chat-sender', text: `${r.sender}: ` }),
          r.preview,
        );
    const label = [
      r.chat ? `${t(r.chat.type === 'channel' ? 'channel' : 'group')} ${r.title}` : r.title,
      r.typing ?? (r.sender ? `${r.sender}: ${r.preview}` : r.preview),
      r.unread ? t('unread', { count: num(r.unread) }) : '',
      r.pinned ? t('chatPinned') : '',
      r.muted ? t('chatMuted') : '',
    ]
      .filter(Boolean)
      .join(getLang() === 'fa' ? '، ' : ', ');
    li.replaceChildren(
      h(
        'button',
        {
          type: 'button',
          class: 'chat-row',
          'aria-current': r.key === selectedKey ? 'true' : false,
          'aria-label': label,
          dataset: { chat: r.key },
          onclick: () => this.onOpen(r.key),
          oncontextmenu: (e) => {
            e.preventDefault();
            this.showMenu(r.key, e.currentTarget, e.clientX, e.clientY);
          },
          onkeydown: (e) => {
            if (e.key !== 'ContextMenu' && !(e.shiftKey && e.key === 'F10')) return;
            e.preventDefault();
            const b = e.currentTarget.getBoundingClientRect();
            const rtl = document.documentElement.dir === 'rtl';
            this.showMenu(r.key, e.currentTarget, rtl ? b.right - 24 : b.left + 24, b.bottom - 8);
          },
        },
        chatAvatarOf(this.client, r.key),
        h(
          'span',
          { class: 'chat-main' },
          h(
            'span',
            { class: 'chat-top' },
            kindMark(r.chat),
            h('span', { class: 'chat-name', dir: 'auto', text: r.title }),
            r.muted && mark('muted', 'chat-muted', t('chatMuted')),
            r.state && statusMark(r.state),
            h('span', { class: 'chat-time', text: r.date ? shortDate(r.date) : '' }),
          ),
          h(
            'span',
            { class: 'chat-bottom' },
            preview,
            r.pinned && mark('pin', 'chat-pin', t('chatPinned')),
            r.unread > 0 &&
              h('span', { class: `badge${r.muted ? ' muted' : ''}`, text: num(r.unread) }),
          ),
        ),
      ),
    );
  }

  /** Pin or unpin, mute or unmute one chat. */
  showMenu(key, restore, x, y) {
    const c = this.client;
    const d = c.dialog(key);
    const pinned = c.isPinned(d);
    const run = (action) => async () => {
      try {
        await action();
      } catch (e) {
        toast(errorText(e));
      }
    };
    const now = () => Math.floor(Date.now() / 1000);
    const items = [
      {
        label: t(pinned ? 'unpin' : 'pin'),
        icon: 'pin',
        action: run(() => c.setPinned(key, !pinned)),
      },
    ];
    if (c.isMuted(d)) {
      items.push({ label: t('unmute'), icon: 'bell', action: run(() => c.setMuted(key, 0)) });
    } else {
      for (const [label, until] of [
        ['muteHour', () => now() + HOUR],
        ['mute8Hours', () => now() + 8 * HOUR],
        ['muteForever', () => MUTE_FOREVER],
      ]) {
        items.push({ label: t(label), icon: 'muted', action: run(() => c.setMuted(key, until())) });
      }
    }
    openMenu({ x, y, label: t('chatActions'), items, restore });
  }
}
