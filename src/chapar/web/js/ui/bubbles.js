// The messages of one chat as the conversation draws them: date separators, service notes,
// bubbles (sender names in groups, forwards, reply quotes, photos and files, text with its
// time and ticks, channel views and signatures, reactions) and uploads on their way. Each
// item carries a signature of what it shows, so a redraw touches only what changed
// (dom.js reconcile).

import { isMember } from '../core/chats.js';
import { dateTime, day, dayKey, errorText, getLang, num, t, time, tn } from '../i18n.js';
import { chatTitle, statusMark } from './chatlist.js';
import { forwardedName, previewText, senderName, serviceText } from './describe.js';
import { avatar, h, icon } from './dom.js';
import { mediaView, uploadView } from './media.js';

const GROUP_SECONDS = 300;
export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export class Bubbles {
  /** `on`: {jumpTo(id), react(id, emoji)} of the conversation. */
  constructor(client, key, on) {
    this.client = client;
    this.key = key;
    this.on = on;
  }

  get chat() {
    return this.client.chat(this.key);
  }

  /** Date separators, service notes and messages in order, each with a signature. */
  items({ messages, pending, uploads }) {
    const c = this.client;
    const chat = this.chat;
    const channel = chat?.type === 'channel';
    const group = chat?.type === 'group';
    const d = c.dialogs.get(this.key);
    const readOut = d?.read_outbox_max_id ?? 0;
    const isSelf = c.me && this.key === `u${c.me.id}`;
    const all = [
      ...messages.map((m) => {
        if (m.action) {
          return { kind: 'service', key: `m${m.id}`, id: m.id, date: m.date, m };
        }
        let state = null;
        if (m.out && !isSelf && !channel) {
          state = group ? 'sent' : m.id <= readOut ? 'read' : 'sent';
        }
        return {
          kind: 'msg',
          key: `m${m.id}`,
          id: m.id,
          m,
          out: channel ? false : m.out,
          from: m.from_id,
          text: m.text,
          date: m.date,
          edited: m.edit_date != null,
          replyTo: m.reply_to ?? null,
          state,
        };
      }),
      ...pending.map((p) => ({
        kind: 'msg',
        key: `p${p.random_id}`,
        rid: p.random_id,
        out: !channel,
        from: c.me?.id,
        text: p.text,
        date: p.date,
        edited: false,
        replyTo: p.reply_to ?? null,
        state: p.failed ? 'failed' : 'pending',
        error: p.failed,
      })),
      ...uploads.map((up) => ({
        kind: 'upload',
        key: `up${up.randomId}`,
        up,
        out: !channel,
        from: c.me?.id,
        date: up.date,
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
      if (it.kind === 'service') {
        it.text = serviceText(c, this.key, it.m);
        it.sig = JSON.stringify([it.text, getLang()]);
        items.push(it);
        prev = null;
        continue;
      }
      it.first = true;
      it.last = true;
      if (
        prev &&
        prev.out === it.out &&
        prev.from === it.from &&
        it.date - prev.date < GROUP_SECONDS
      ) {
        prev.last = false;
        it.first = false;
      }
      items.push(it);
      prev = it;
    }
    for (const it of items) {
      if (it.kind === 'upload') {
        const up = it.up;
        it.sig = JSON.stringify([
          up.state,
          Math.round(up.progress * 100),
          up.error,
          it.first,
          it.last,
        ]);
      }
      if (it.kind !== 'msg') continue;
      const m = it.m;
      it.group = group;
      it.channel = channel;
      it.quote = it.replyTo ? this.quoteOf(it.replyTo) : null;
      it.sender = group && !it.out && it.first ? senderName(c, { from_id: it.from }) : null;
      it.fwd = m?.fwd_from ? forwardedName(c, m.fwd_from) : null;
      it.reactions = m?.reactions ?? null;
      it.mine = m ? (c.myReactions.get(`${this.key}:${m.id}`) ?? null) : null;
      it.views = channel ? (m?.views ?? null) : null;
      it.author = channel ? (m?.post_author ?? null) : null;
      it.media = m?.media ?? null;
      it.sig = JSON.stringify([
        it.text,
        it.edited,
        it.state,
        it.first,
        it.last,
        it.quote,
        it.sender,
        it.fwd,
        it.media?.file_id,
        it.reactions,
        it.mine,
        it.views,
        it.author,
        getLang(),
      ]);
    }
    return items;
  }

  quoteOf(id) {
    const m = this.client.replied(this.key, id);
    if (m === 'deleted') return { id, name: '', text: t('deletedMessage') };
    if (!m) return { id, name: '', text: '…' };
    const name =
      this.key[0] === 'c'
        ? senderName(this.client, m)
        : m.out
          ? t('you')
          : chatTitle(this.client, this.key);
    return { id, name, text: previewText(this.client, this.key, m) };
  }

  create(it) {
    if (it.kind === 'day') {
      return h('div', { class: 'day-sep' }, h('span', { text: it.label }));
    }
    if (it.kind === 'service') {
      const el = h('div', { class: 'service', role: 'note', dataset: { id: it.id } });
      this.fill(el, it);
      return el;
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
    if (it.kind === 'service') {
      el.replaceChildren(h('span', { dir: 'auto', text: it.text }));
      return;
    }
    const withAvatar = it.group && !it.out;
    const cls = [
      'msg',
      it.out ? 'out' : 'in',
      it.first && 'first',
      it.last && 'last',
      withAvatar && 'has-avatar',
      it.channel && 'post',
    ];
    el.className = cls.filter(Boolean).join(' ');
    if (it.id) el.dataset.id = it.id;
    if (it.rid) el.dataset.rid = it.rid;
    if (it.kind === 'upload') {
      el.dataset.upload = it.up.randomId;
      el.replaceChildren(...this.uploadChildren(it));
      return;
    }
    const children = [];
    if (withAvatar && it.last) {
      const user = this.client.user(it.from);
      children.push(
        h('span', { class: 'msg-avatar' }, avatar(user ?? { id: it.from, first_name: '?' }, 'xs')),
      );
    }
    children.push(this.bubble(it));
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

  meta(it) {
    return h(
      'span',
      { class: 'meta' },
      it.author && h('span', { class: 'signature', dir: 'auto', text: it.author }),
      it.views != null &&
        h(
          'span',
          { class: 'views', 'aria-label': tn('views', it.views) },
          icon('eye'),
          h('span', { text: compactNum(it.views) }),
        ),
      it.edited && h('span', { class: 'edited', text: t('edited') }),
      h('time', {
        datetime: new Date(it.date * 1000).toISOString(),
        title: dateTime(it.date),
        text: time(it.date),
      }),
      it.state && statusMark(it.state),
    );
  }

  bubble(it) {
    const ghost = this.meta(it);
    ghost.className = 'meta ghost';
    ghost.setAttribute('aria-hidden', 'true');
    const q = it.quote;
    const photoOnly = it.media?.type === 'photo' && !it.text;
    const parts = [
      it.sender &&
        h('span', { class: `sender name-c${it.from % 8}`, dir: 'auto', text: it.sender }),
      it.fwd &&
        h(
          'span',
          { class: 'fwd', dir: 'auto' },
          icon('forward'),
          t('forwardedFrom', { name: it.fwd }),
        ),
      q &&
        h(
          'button',
          { type: 'button', class: 'reply-quote', onclick: () => this.on.jumpTo(q.id) },
          h('span', { class: 'quote-name', dir: 'auto', text: q.name }),
          h('span', { class: 'quote-text', dir: 'auto', text: q.text }),
        ),
      it.media && it.m && mediaView(this.client, this.key, it.m),
    ];
    if (photoOnly) {
      const over = this.meta(it);
      over.classList.add('over');
      parts.push(over);
    } else {
      // The text and its time share one box whose direction follows the text (dir=auto),
      // so the time sits at the end of the text's last line in either script.
      parts.push(
        h(
          'div',
          { class: 'text', dir: 'auto' },
          h('span', { class: 'body', text: it.text }),
          ghost,
          this.meta(it),
        ),
      );
    }
    if (it.reactions?.length) parts.push(this.reactionRow(it));
    const cls = ['bubble', it.media && `has-${it.media.type}`, photoOnly && 'media-only'];
    return h('div', { class: cls.filter(Boolean).join(' ') }, parts);
  }

  reactionRow(it) {
    const member = isMember(this.chat);
    return h(
      'div',
      { class: 'reactions', role: 'group', 'aria-label': t('react') },
      it.reactions.map((r) =>
        h(
          'button',
          {
            type: 'button',
            class: `reaction${r.emoji === it.mine ? ' mine' : ''}`,
            'aria-pressed': String(r.emoji === it.mine),
            'aria-label': t('reactionCount', { emoji: r.emoji, count: num(r.count) }),
            disabled: !member,
            dataset: { emoji: r.emoji },
            onclick: () => this.on.react(it.id, r.emoji === it.mine ? '' : r.emoji),
          },
          h('span', { class: 'reaction-emoji', text: r.emoji }),
          h('span', { class: 'reaction-count', text: num(r.count) }),
        ),
      ),
    );
  }

  uploadChildren(it) {
    const up = it.up;
    // The caption shows under the file while it goes up, as it will once sent.
    const cls = up.caption ? `has-${up.kind}` : up.kind === 'photo' && 'media-only';
    const kids = [
      h(
        'div',
        { class: ['bubble', 'upload-bubble', cls].filter(Boolean).join(' ') },
        uploadView(up),
        up.caption &&
          h(
            'div',
            { class: 'text', dir: 'auto' },
            h('span', { class: 'body', text: up.caption }),
          ),
      ),
    ];
    if (up.state === 'failed') {
      kids.push(
        h(
          'div',
          { class: 'failed-actions' },
          h('span', { text: `${t('failed')}: ${errorText({ type: up.error })}` }),
          h('button', {
            type: 'button',
            class: 'text-btn',
            text: t('retry'),
            onclick: () => up.run(),
          }),
          h('button', {
            type: 'button',
            class: 'text-btn danger',
            text: t('delete'),
            onclick: () => up.forget(),
          }),
        ),
      );
    }
    return kids;
  }
}

/** 1234 -> "1.2K" (views), in the interface's digits. */
function compactNum(n) {
  return new Intl.NumberFormat(getLang() === 'fa' ? 'fa-IR' : 'en', {
    notation: 'compact',
    maximumFractionDigits: 1,
  }).format(n);
}
