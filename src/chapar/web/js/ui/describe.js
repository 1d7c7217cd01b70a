// Names and one-line descriptions of chats and messages, shared by the chat list, the
// conversation, search and the panels.

import { displayName } from '../core/client.js';
import { day, dayKey, digits, getLang, num, t, time, tn } from '../i18n.js';
import { avatar, chatAvatar } from './dom.js';

/** The name a chat is shown under. */
export function chatTitle(client, key) {
  if (client.me && key === `u${client.me.id}`) return t('savedMessages');
  if (key[0] === 'c') return client.chat(key)?.title ?? '…';
  const user = client.chatUser(key);
  return user ? displayName(user) || digits(user.phone ?? '') : '…';
}

export function chatAvatarOf(client, key, size = 'md') {
  if (key[0] === 'c') {
    const chat = client.chat(key) ?? { id: Number(key.slice(1)), title: '…' };
    return chatAvatar(chat, size);
  }
  const user = client.chatUser(key);
  return avatar(user ?? { id: Number(key.slice(1)), first_name: chatTitle(client, key) }, size);
}

/** "3 members" / "12 subscribers" for a group or channel. */
export function chatCount(chat) {
  if (!chat) return '';
  const n = chat.members_count ?? 0;
  return chat.type === 'channel' ? tn('subscribers', n) : tn('members', n);
}

export function userName(client, id) {
  if (!id) return '';
  return displayName(client.user(id)) || '…';
}

/** Who wrote a message, as its chat shows it. */
export function senderName(client, m) {
  return m.out ? t('you') : userName(client, m.from_id);
}

function list(names) {
  if (names.length <= 1) return names.join('');
  const sep = getLang() === 'fa' ? '، ' : ', ';
  return `${names.slice(0, -1).join(sep)}${t('and')}${names.at(-1)}`;
}

function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Text of either direction inside a sentence: isolated, so a Persian name in an English
 * sentence (or the reverse) keeps its place. */
export function isolate(text) {
  return `\u2068${text}\u2069`;
}

/** The centred note of a service message ("Sara added Reza"). */
export function serviceText(client, key, m) {
  const a = m.action;
  const actor = isolate(userName(client, m.from_id));
  const users = list((a.users ?? []).map((id) => isolate(userName(client, id))));
  if (a.type === 'chat_create') {
    const kind = client.chat(key)?.type === 'channel' ? 'channel' : 'group';
    return t(`svc_chat_create_${kind}`, { actor, title: isolate(a.title ?? '') });
  }
  if (a.type === 'pin_message') {
    const pinned = a.msg_id ? client.replied(key, a.msg_id) : null;
    const text = pinned && pinned !== 'deleted' ? oneLine(previewText(client, key, pinned)) : '…';
    const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    return t('svc_pin_message', { actor, text: isolate(short) });
  }
  return t(`svc_${a.type}`, { actor, users, title: isolate(a.title ?? '') });
}

/** What a photo or file looks like in one line. */
export function mediaLabel(media) {
  if (!media) return '';
  if (media.type === 'photo') return `📷 ${t('photo')}`;
  return `📄 ${media.name || t('file')}`;
}

/** A message in one line: its text, caption or what it holds. */
export function previewText(client, key, m) {
  if (m.action) return serviceText(client, key, m);
  if (m.media) return oneLine(m.text ? `${mediaLabel(m.media)}, ${m.text}` : mediaLabel(m.media));
  return oneLine(m.text);
}

/** Where a forwarded message came from. */
export function forwardedName(client, fwd) {
  if (!fwd) return null;
  if (fwd.from_name) return fwd.from_name;
  if (fwd.chat_id) return client.chats.get(fwd.chat_id)?.title ?? t('channel');
  return userName(client, fwd.from_id);
}

/** "online" / "last seen at 14:05" for a person's chat header; null when there is nothing
 * to say (never seen, or not yet known). */
export function lastSeenText(status) {
  if (!status || status.type === 'empty') return null;
  if (status.type === 'online') return t('online');
  const at = status.was_online;
  const today = dayKey(Date.now() / 1000);
  if (Date.now() / 1000 - at < 60) return t('lastSeenJustNow');
  if (dayKey(at) === today) return t('lastSeenAt', { time: time(at) });
  if (dayKey(at) === today - 86400_000) return t('lastSeenYesterday', { time: time(at) });
  return t('lastSeenOn', { date: day(at) });
}

/** "Sara is typing" / "3 people are typing" for a group; "typing" for a person. */
export function typingText(client, key) {
  if (key[0] === 'u') return t('typing');
  const who = client.typers(key);
  if (who.length === 1) return t('typingOne', { name: userName(client, who[0]) });
  return t('typingMany', { count: num(who.length) });
}
