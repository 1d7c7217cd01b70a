// One open chat: the header, the messages (bubbles, date separators, replies, ticks) and the
// composer (Enter sends, Shift+Enter breaks the line, Escape cancels a reply or an edit, the
// up arrow in an empty composer edits one's last message).

import { displayName } from '../core/client.js';
import { dateTime, day, dayKey, digits, errorText, getLang, t, time } from '../i18n.js';
import { chatTitle, statusMark } from './chatlist.js';
import { avatar, h, iconButton, reconcile } from './dom.js';
import { confirmDialog, openMenu, toast } from './menu.js';

const GROUP_SECONDS = 300;
const TYPING_EVERY_MS = 4000;
const drafts = new Map(); // chat key -> unsent text, while the tab lives

export class Conversation {
  constructor(client, key, { onBack }) {
    this.client = client;
    this.key = key;
    this.replyTo = null;
    this.editing = null;
    this.lastTypingSent = 0;
    this.firstRender = true;
    this.forceBottom = false;
    this.build(onBack);
    this.input.value = drafts.get(key) ?? '';
    this.autosize();
  }

  destroy() {
    drafts.set(this.key, this.editing ? '' : this.input.value);
    if (this.lastTypingSent) this.client.setTyping(this.key, 'cancel');
  }

  focusComposer() {
    if (matchMedia('(pointer: fine)').matches) this.input.focus({ preventScroll: true });
  }

  build(onBack) {
    this.title = h('h2', { class: 'chat-title', dir: 'auto' });
    this.subtitle = h('p', { class: 'chat-subtitle' });
    this.headAvatar = h('span', { class: 'head-avatar' });
    const head = h(
      'header',
      { class: 'chat-head' },
      iconButton('back', t('back'), onBack, { flip: true, cls: 'back-btn' }),
      this.headAvatar,
      h('div', { class: 'chat-head-text' }, this.title, this.subtitle),
    );
    this.inner = h('div', { class: 'messages-inner' });
    this.loader = h('div', { class: 'loader', text: t('loadingOlder'), hidden: true });
    this.emptyNote = h('p', { class: 'no-messages', text: t('noMessages'), hidden: true });
    this.log = h(
      'div',
      {
        class: 'messages',
        role: 'log',
        'aria-label': t('messages'),
        tabindex: '0',
        onscroll: () => this.onScroll(),
        onkeydown: (e) => this.onLogKey(e),
        oncontextmenu: (e) => this.onContextMenu(e),
        ondblclick: (e) => {
          const el = e.target.closest('.msg[data-id]');
          if (el && !e.target.closest('button')) this.startReply(Number(el.dataset.id));
        },
      },
      this.emptyNote,
      this.inner,
    );
    this.toBottom = iconButton('down', t('toLatest'), () => this.scrollToBottom(), {
      cls: 'to-bottom',
    });
    this.toBottom.hidden = true;
    this.bar = h('div', { class: 'composer-bar', hidden: true });
    this.input = h('textarea', {
      rows: 1,
      dir: 'auto',
      class: 'composer-input',
      'aria-label': t('messagePlaceholder'),
      placeholder: t('messagePlaceholder'),
      enterkeyhint: 'send',
      oninput: () => this.onInput(),
      onkeydown: (e) => this.onComposerKey(e),
    });
    this.sendBtn = iconButton('send', t('send'), () => this.submit(), {
      flip: true,
      cls: 'send-btn',
    });
    this.el = h(
      'section',
      { class: 'chat' },
      head,
      h('div', { class: 'messages-wrap' }, this.log, this.loader, this.toBottom),
      h(
        'footer',
        { class: 'composer' },
        this.bar,
        h('div', { class: 'composer-row' }, this.input, this.sendBtn),
      ),
    );
  }

  // -- rendering ------------------------------------------------------------------------
  render() {
    const c = this.client;
    const user = c.chatUser(this.key);
    const title = chatTitle(c, this.key);
    this.title.textContent = title;
    this.el.setAttribute('aria-label', title);
    this.headAvatar.replaceChildren(
      avatar(user ?? { id: Number(this.key.slice(1)), first_name: title }, 'sm'),
    );
    if (c.isTyping(this.key)) {
      this.subtitle.className = 'chat-subtitle typing';
      this.subtitle.textContent = t('typing');
    } else {
      this.subtitle.className = 'chat-subtitle';
      const isSelf = c.me && this.key === `u${c.me.id}`;
      this.subtitle.textContent = isSelf
        ? ''
        : user?.username
          ? `@${user.username}`
          : digits(user?.phone ?? '');
      this.subtitle.dir = user?.username || user?.phone ? 'ltr' : 'auto';
    }

    const log = this.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
    const prevHeight = log.scrollHeight;
    const prevTop = log.scrollTop;
    const firstBefore = this.inner.firstElementChild;
    const state = c.messagesOf(this.key);
    reconcile(this.inner, this.items(state), {
      key: (it) => it.key,
      sig: (it) => it.sig,
      create: (it) => this.create(it),
      update: (el, it) => this.fill(el, it),
    });
    this.loader.hidden = !(state.loading && state.loaded);
    this.emptyNote.hidden = !state.loaded || state.messages.length + state.pending.length > 0;
    if (this.firstRender || this.forceBottom || atBottom) {
      log.scrollTop = log.scrollHeight;
      this.forceBottom = false;
    } else if (firstBefore?.isConnected && this.inner.firstElementChild !== firstBefore) {
      log.scrollTop = prevTop + (log.scrollHeight - prevHeight);
    }
    if (state.loaded) this.firstRender = false;
    this.onScroll();
  }

  /** Date separators and messages in order, each with a signature of what it shows. */
  items({ messages, pending }) {
    const d = this.client.dialogs.get(this.key);
    const readOut = d?.read_outbox_max_id ?? 0;
    const isSelf = this.client.me && this.key === `u${this.client.me.id}`;
    const all = [
      ...messages.map((m) => ({
        key: `m${m.id}`,
        id: m.id,
        out: m.out,
        text: m.text,
        date: m.date,
        edited: m.edit_date != null,
        replyTo: m.reply_to ?? null,
        state: m.out && !isSelf ? (m.id <= readOut ? 'read' : 'sent') : null,
      })),
      ...pending.map((p) => ({
        key: `p${p.random_id}`,
        rid: p.random_id,
        out: true,
        text: p.text,
        date: p.date,
        edited: false,
        replyTo: p.reply_to ?? null,
        state: p.failed ? 'failed' : 'pending',
        error: p.failed,
      })),
    ];
    const items = [];
    let lastDay = null;
    let prev = null;
    for (const it of all) {
      const dk = dayKey(it.date);
      if (dk !== lastDay) {
        const label = day(it.date);
        items.push({ key: `d${dk}`, kind: 'day', label, sig: `${label}` });
        lastDay = dk;
        prev = null;
      }
      it.kind = 'msg';
      it.first = true;
      it.last = true;
      if (prev && prev.out === it.out && it.date - prev.date < GROUP_SECONDS) {
        prev.last = false;
        it.first = false;
      }
      items.push(it);
      prev = it;
    }
    for (const it of items) {
      if (it.kind !== 'msg') continue;
      const quote = it.replyTo ? this.quoteOf(it.replyTo) : null;
      it.quote = quote;
      it.sig = JSON.stringify([
        it.text,
        it.edited,
        it.state,
        it.first,
        it.last,
        quote,
        getLang(),
      ]);
    }
    return items;
  }

  quoteOf(id) {
    const m = this.client.replied(this.key, id);
    if (m === 'deleted') return { id, name: '', text: t('deletedMessage') };
    if (!m) return { id, name: '', text: '…' };
    const name = m.out
      ? t('you')
      : displayName(this.client.user(m.from_id)) || chatTitle(this.client, this.key);
    return { id, name, text: m.text.replace(/\s+/g, ' ') };
  }

  create(it) {
    if (it.kind === 'day') {
      return h('div', { class: 'day-sep' }, h('span', { text: it.label }));
    }
    const el = h('div', { tabindex: '-1' });
    this.fill(el, it);
    return el;
  }

  fill(el, it) {
    if (it.kind === 'day') {
      el.firstChild.textContent = it.label;
      return;
    }
    const cls = ['msg', it.out ? 'out' : 'in', it.first && 'first', it.last && 'last'];
    el.className = cls.filter(Boolean).join(' ');
    if (it.id) el.dataset.id = it.id;
    if (it.rid) el.dataset.rid = it.rid;
    const meta = () =>
      h(
        'span',
        { class: 'meta' },
        it.edited && h('span', { class: 'edited', text: t('edited') }),
        h('time', {
          datetime: new Date(it.date * 1000).toISOString(),
          title: dateTime(it.date),
          text: time(it.date),
        }),
        it.state && statusMark(it.state),
      );
    const ghost = meta();
    ghost.className = 'meta ghost';
    ghost.setAttribute('aria-hidden', 'true');
    const q = it.quote;
    const bubble = h(
      'div',
      { class: 'bubble' },
      q &&
        h(
          'button',
          {
            type: 'button',
            class: 'reply-quote',
            onclick: () => this.jumpTo(q.id),
          },
          h('span', { class: 'quote-name', dir: 'auto', text: q.name }),
          h('span', { class: 'quote-text', dir: 'auto', text: q.text }),
        ),
      // The text and its time share one box whose direction follows the text (dir=auto),
      // so the time sits at the end of the text's last line in either script.
      h(
        'div',
        { class: 'text', dir: 'auto' },
        h('span', { class: 'body', text: it.text }),
        ghost,
        meta(),
      ),
    );
    const children = [bubble];
    if (it.state === 'failed') {
      children.push(
        h(
          'div',
          { class: 'failed-actions' },
          h('span', { text: `${t('failed')}: ${errorText({ type: it.error })}` }),
          h('button', {
            type: 'button',
            class: 'text-btn',
            text: t('retry'),
            onclick: () => this.client.retry(it.rid),
          }),
          h('button', {
            type: 'button',
            class: 'text-btn danger',
            text: t('delete'),
            onclick: () => this.client.discard(it.rid),
          }),
        ),
      );
    }
    el.replaceChildren(...children);
  }

  // -- scrolling and keyboard -----------------------------------------------------------
  onScroll() {
    const log = this.log;
    if (log.scrollTop < 300 && !this.firstRender) {
      const h = this.client.history(this.key);
      if (h.loaded && !h.complete && !h.loading) this.client.loadHistory(this.key, true);
    }
    this.toBottom.hidden = log.scrollHeight - log.scrollTop - log.clientHeight < 300;
  }

  scrollToBottom() {
    this.log.scrollTo({ top: this.log.scrollHeight, behavior: 'smooth' });
  }

  jumpTo(id) {
    const el = this.inner.querySelector(`.msg[data-id="${id}"]`);
    if (!el) return;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
    el.focus({ preventScroll: true });
  }

  onLogKey(e) {
    const msgs = [...this.inner.querySelectorAll('.msg')];
    if (!msgs.length) return;
    const current = document.activeElement.closest?.('.msg');
    const i = msgs.indexOf(current);
    let next = null;
    if (e.key === 'ArrowUp') next = i < 0 ? msgs.at(-1) : msgs[Math.max(0, i - 1)];
    else if (e.key === 'ArrowDown') next = i < 0 ? msgs.at(-1) : msgs[i + 1];
    else if (e.key === 'End') next = msgs.at(-1);
    else if (e.key === 'Home') next = msgs[0];
    else if (
      current &&
      (e.key === 'Enter' || e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10'))
    ) {
      const r = current.querySelector('.bubble').getBoundingClientRect();
      this.showMenu(current, r.left + 16, r.bottom - 8);
    } else if (e.key === 'Escape') {
      this.input.focus();
    } else return;
    e.preventDefault();
    if (e.key === 'ArrowDown' && i === msgs.length - 1) this.input.focus();
    else next?.focus();
  }

  onContextMenu(e) {
    const el = e.target.closest('.msg');
    if (!el) return;
    e.preventDefault();
    this.showMenu(el, e.clientX, e.clientY);
  }

  showMenu(el, x, y) {
    const id = Number(el.dataset.id) || null;
    const rid = Number(el.dataset.rid) || null;
    const items = [];
    if (id) {
      const m = this.client.byId.get(id);
      if (!m) return;
      items.push({ label: t('reply'), icon: 'reply', action: () => this.startReply(id) });
      items.push({
        label: t('copy'),
        icon: 'copy',
        action: () => navigator.clipboard?.writeText(m.text).catch(() => {}),
      });
      if (m.out) items.push({ label: t('edit'), icon: 'edit', action: () => this.startEdit(id) });
      items.push({
        label: t('delete'),
        icon: 'trash',
        danger: true,
        action: () => this.confirmDelete(m),
      });
    } else if (rid) {
      items.push({
        label: t('delete'),
        icon: 'trash',
        danger: true,
        action: () => this.client.discard(rid),
      });
    }
    openMenu({ x, y, label: t('messageActions'), items, restore: el });
  }

  async confirmDelete(m) {
    const isSelf = this.client.me && this.key === `u${this.client.me.id}`;
    const name = chatTitle(this.client, this.key);
    const answer = await confirmDialog({
      title: t('deleteTitle'),
      text: t('deleteConfirm'),
      checkbox: isSelf ? null : { label: t('deleteForBoth', { name }), checked: m.out },
      okLabel: t('delete'),
      danger: true,
    });
    if (!answer.ok) return;
    try {
      await this.client.deleteMessages([m.id], answer.checked);
    } catch (e) {
      toast(errorText(e));
    }
  }

  // -- composer -------------------------------------------------------------------------
  setBar(kind, m) {
    if (!kind) {
      this.bar.hidden = true;
      this.bar.replaceChildren();
      return;
    }
    const who = m.out ? t('you') : chatTitle(this.client, this.key);
    const label = kind === 'reply' ? t('replyTo', { name: who }) : t('editing');
    this.bar.hidden = false;
    this.bar.className = `composer-bar ${kind}`;
    this.bar.replaceChildren(
      h(
        'div',
        { class: 'bar-text' },
        h('span', { class: 'bar-label', text: label }),
        h('span', { class: 'bar-quote', dir: 'auto', text: m.text.replace(/\s+/g, ' ') }),
      ),
      iconButton('close', kind === 'reply' ? t('cancelReply') : t('cancelEdit'), () =>
        this.cancelBar(),
      ),
    );
  }

  startReply(id) {
    const m = this.client.byId.get(id);
    if (!m) return;
    if (this.editing) this.cancelBar();
    this.replyTo = id;
    this.setBar('reply', m);
    this.input.focus();
  }

  startEdit(id) {
    const m = this.client.byId.get(id);
    if (!m) return;
    if (!this.editing) drafts.set(this.key, this.input.value);
    this.replyTo = null;
    this.editing = id;
    this.setBar('edit', m);
    this.input.value = m.text;
    this.autosize();
    this.input.focus();
    this.input.setSelectionRange(m.text.length, m.text.length);
  }

  cancelBar() {
    if (this.editing) {
      this.input.value = drafts.get(this.key) ?? '';
      this.autosize();
    }
    this.replyTo = null;
    this.editing = null;
    this.setBar(null);
    this.input.focus();
  }

  autosize() {
    // An empty box follows the interface (placeholder on the right in Persian); typed text
    // follows its own first letter.
    this.input.dir = this.input.value ? 'auto' : document.documentElement.dir;
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }

  onInput() {
    this.autosize();
    if (this.editing) return;
    const now = Date.now();
    if (this.input.value.trim()) {
      if (now - this.lastTypingSent > TYPING_EVERY_MS) {
        this.lastTypingSent = now;
        this.client.setTyping(this.key, 'typing');
      }
    } else if (this.lastTypingSent) {
      this.lastTypingSent = 0;
      this.client.setTyping(this.key, 'cancel');
    }
  }

  onComposerKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === 'Escape' && (this.replyTo || this.editing)) {
      e.preventDefault();
      this.cancelBar();
    } else if (e.key === 'ArrowUp' && !this.input.value && !this.editing) {
      const own = this.client
        .messagesOf(this.key)
        .messages.filter((m) => m.out)
        .at(-1);
      if (own) {
        e.preventDefault();
        this.startEdit(own.id);
      }
    }
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text) return;
    if (this.editing) {
      const id = this.editing;
      const original = this.client.byId.get(id)?.text;
      this.cancelBar();
      if (text === original) return;
      try {
        await this.client.edit(this.key, id, text);
      } catch (e) {
        toast(errorText(e));
      }
      return;
    }
    const replyTo = this.replyTo;
    this.input.value = '';
    drafts.delete(this.key);
    this.lastTypingSent = 0;
    this.autosize();
    this.replyTo = null;
    this.setBar(null);
    this.forceBottom = true;
    this.client.send(this.key, text, replyTo);
  }
}
