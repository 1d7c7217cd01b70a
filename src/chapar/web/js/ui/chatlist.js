// The chat list: one row per chat, newest first, filtered by the search box.

import { displayName } from '../core/client.js';
import { digits, fold, getLang, num, shortDate, t } from '../i18n.js';
import { avatar, h, icon, reconcile } from './dom.js';

/** The name a chat is shown under. */
export function chatTitle(client, key) {
  if (client.me && key === `u${client.me.id}`) return t('savedMessages');
  const user = client.chatUser(key);
  return user ? displayName(user) || digits(user.phone ?? '') : '…';
}

function oneLine(text) {
  return text.replace(/\s+/g, ' ').trim();
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

export class ChatList {
  constructor(client, onOpen) {
    this.client = client;
    this.onOpen = onOpen;
    this.query = '';
    this.list = h('ul', { class: 'chat-list', 'aria-label': t('chats') });
    this.empty = h('p', { class: 'list-empty' });
    this.el = h('div', { class: 'chat-list-wrap' }, this.list, this.empty);
  }

  setQuery(q) {
    this.query = fold(q);
  }

  rows() {
    const c = this.client;
    return c.chatList().map((r) => {
      const user = c.chatUser(r.key);
      const title = chatTitle(c, r.key);
      const d = r.dialog;
      let preview;
      let state = null;
      if (r.pending) {
        preview = r.pending.text;
        state = r.pending.failed ? 'failed' : 'pending';
      } else {
        preview = r.top.text;
        if (r.top.out) state = r.top.id <= d.read_outbox_max_id ? 'read' : 'sent';
      }
      const isSelf = c.me && r.key === `u${c.me.id}`;
      return {
        key: r.key,
        user,
        title,
        preview: oneLine(preview),
        state: isSelf ? null : state,
        date: r.date,
        unread: d.unread_count,
        typing: c.isTyping(r.key),
        haystack: fold(`${title} ${user?.username ?? ''} ${preview}`),
      };
    });
  }

  render(selectedKey) {
    const rows = this.rows().filter((r) => !this.query || r.haystack.includes(this.query));
    reconcile(this.list, rows, {
      key: (r) => r.key,
      sig: (r) =>
        JSON.stringify([
          r.title,
          r.preview,
          r.state,
          r.date,
          r.unread,
          r.typing,
          r.key === selectedKey,
          r.user?.id,
          getLang(),
        ]),
      create: (r) => {
        const li = h('li');
        this.fill(li, r, selectedKey);
        return li;
      },
      update: (li, r) => this.fill(li, r, selectedKey),
    });
    this.empty.textContent = rows.length ? '' : this.query ? t('noResults') : t('noChats');
    this.empty.hidden = rows.length > 0;
  }

  fill(li, r, selectedKey) {
    const preview = r.typing
      ? h('span', { class: 'chat-preview typing', text: `${t('typing')}…` })
      : h('span', { class: 'chat-preview', dir: 'auto', text: r.preview });
    const label = [
      r.title,
      r.typing ? t('typing') : r.preview,
      r.unread ? t('unread', { count: num(r.unread) }) : '',
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
        },
        avatar(r.user ?? { id: Number(r.key.slice(1)), first_name: r.title }),
        h(
          'span',
          { class: 'chat-main' },
          h(
            'span',
            { class: 'chat-top' },
            h('span', { class: 'chat-name', dir: 'auto', text: r.title }),
            r.state && statusMark(r.state),
            h('span', { class: 'chat-time', text: r.date ? shortDate(r.date) : '' }),
          ),
          h(
            'span',
            { class: 'chat-bottom' },
            preview,
            r.unread > 0 && h('span', { class: 'badge', text: num(r.unread) }),
          ),
        ),
      ),
    );
  }
}
