// A group's or channel's info, beside the conversation: its name, count, public name and
// description; for admins, renaming, the public name and invite links; the member list with
// promote, dismiss and remove for those with the rights (channels show subscribers to admins
// only, as the server does); leaving.

import { displayName } from '../core/client.js';
import { isMember, rightsIn } from '../core/chats.js';
import { errorText, t } from '../i18n.js';
import { chatCount, chatTitle } from './describe.js';
import { avatar, chatAvatar, h, icon, iconButton } from './dom.js';
import { confirmDialog, openMenu, toast } from './menu.js';

let seq = 0;

export class ChatInfo {
  constructor(client, key, { onClose, onOpenChat }) {
    this.client = client;
    this.key = key;
    this.onClose = onClose;
    this.onOpenChat = onOpenChat;
    this.members = null;
    this.membersOf = null; // the members_count the list was loaded for
    this.link = null;
    this.el = h('aside', { class: 'chat-info', 'aria-labelledby': 'chat-info-title' });
    this.card = h('div', { class: 'profile-card' });
    this.adminHost = h('div');
    this.linkHost = h('div');
    this.memberHost = h('section', { class: 'settings-section members' });
    this.leaveHost = h('div');
    this.el.append(
      h(
        'header',
        { class: 'panel-head' },
        iconButton('close', t('close'), () => this.onClose()),
        h('h2', { id: 'chat-info-title', text: t('chatInfo') }),
      ),
      h(
        'div',
        { class: 'panel-body' },
        this.card,
        this.adminHost,
        this.linkHost,
        this.memberHost,
        this.leaveHost,
      ),
    );
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !document.querySelector('dialog[open], .menu')) {
        e.preventDefault();
        e.stopPropagation();
        this.onClose();
      }
    });
    this.render();
  }

  destroy() {}

  focus() {
    this.el.querySelector('.panel-head button')?.focus();
  }

  get chat() {
    return this.client.chat(this.key);
  }

  render() {
    const chat = this.chat;
    if (!chat) return;
    const rights = rightsIn(chat);
    this.card.replaceChildren(
      ...[
        chatAvatar(chat, 'lg'),
        h('div', { class: 'profile-name', dir: 'auto', text: chat.title }),
        h('div', { class: 'profile-phone', text: chatCount(chat) }),
        chat.username &&
          h('bdi', { class: 'profile-username', dir: 'ltr', text: `@${chat.username}` }),
        chat.about && h('p', { class: 'chat-about', dir: 'auto', text: chat.about }),
      ].filter(Boolean),
    );
    // Built once while the rights stay: a redraw must not drop what the admin is typing.
    const adminKey = JSON.stringify([!!rights.change_info]);
    if (this.adminKey !== adminKey) {
      this.adminKey = adminKey;
      this.adminHost.replaceChildren(rights.change_info ? this.adminForm(chat) : '');
    }
    const linkKey = JSON.stringify([!!rights.invite_users, this.link]);
    if (this.linkKey !== linkKey) {
      this.linkKey = linkKey;
      this.linkHost.replaceChildren(rights.invite_users ? this.linkSection() : '');
    }
    const seeMembers = isMember(chat) && (chat.type === 'group' || chat.role !== 'member');
    if (!seeMembers) {
      this.memberHost.hidden = true;
    } else {
      this.memberHost.hidden = false;
      if (this.membersOf !== chat.members_count || this.rightsSeen !== JSON.stringify(rights)) {
        this.membersOf = chat.members_count;
        this.rightsSeen = JSON.stringify(rights);
        this.loadMembers();
      }
    }
    const canLeave = isMember(chat) && chat.role !== 'creator';
    this.leaveHost.replaceChildren(
      canLeave
        ? h(
            'button',
            { type: 'button', class: 'logout', onclick: () => this.leave() },
            icon('logout', { flip: true }),
            chat.type === 'channel' ? t('leaveChannel') : t('leaveGroup'),
          )
        : '',
    );
  }

  field(label, input, hint) {
    const id = `ci${++seq}`;
    input.id = id;
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, text: label }),
      input,
      hint && h('p', { class: 'field-hint', text: hint }),
    );
  }

  adminForm(chat) {
    const title = h('input', { dir: 'auto', maxlength: 128, value: chat.title });
    const username = h('input', {
      dir: 'ltr',
      maxlength: 32,
      autocomplete: 'off',
      spellcheck: 'false',
      value: chat.username ?? '',
    });
    const signId = `ci${++seq}`;
    const sign = h('input', { type: 'checkbox', id: signId });
    sign.checked = !!chat.signatures;
    const status = h('p', { class: 'form-status', role: 'status' });
    const button = h('button', { type: 'submit', class: 'primary small', text: t('save') });
    return h(
      'form',
      {
        class: 'settings-section settings-form chat-edit',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          button.disabled = true;
          status.className = 'form-status';
          status.textContent = '';
          try {
            const c = this.client;
            const newTitle = title.value.trim();
            const newName = username.value.trim().replace(/^@/, '');
            if (newTitle && newTitle !== this.chat.title) await c.editChatTitle(this.key, newTitle);
            if (newName !== (this.chat.username ?? '')) await c.setChatUsername(this.key, newName);
            if (this.chat.type === 'channel' && sign.checked !== !!this.chat.signatures) {
              await c.toggleSignatures(this.key, sign.checked);
            }
            status.textContent = t('saved');
          } catch (err) {
            status.className = 'form-status error';
            status.textContent = errorText(err);
          } finally {
            button.disabled = false;
          }
        },
      },
      this.field(t('chatTitleLabel'), title),
      this.field(t('publicName'), username, t('chatUsernameHint')),
      chat.type === 'channel' &&
        h('label', { class: 'check', for: signId }, sign, t('signMessages')),
      h('div', { class: 'form-foot' }, status, button),
    );
  }

  linkSection() {
    const body = [];
    if (this.link) {
      const input = h('input', {
        readonly: true,
        dir: 'ltr',
        value: this.link,
        class: 'invite-link',
      });
      body.push(
        this.field(t('inviteLink'), input),
        h('button', {
          type: 'button',
          class: 'text-btn',
          text: t('copyLink'),
          onclick: () => {
            input.select();
            navigator.clipboard?.writeText(this.link).then(
              () => toast(t('linkCopied')),
              () => {},
            );
          },
        }),
      );
    } else {
      body.push(
        h(
          'button',
          {
            type: 'button',
            class: 'text-btn',
            onclick: async () => {
              try {
                this.link = await this.client.exportInvite(this.key);
                this.render();
                this.linkHost.querySelector('.invite-link')?.focus();
              } catch (e) {
                toast(errorText(e));
              }
            },
          },
          icon('link'),
          t('createLink'),
        ),
      );
    }
    return h(
      'section',
      { class: 'settings-section invite' },
      h('h3', {}, icon('link'), t('inviteLink')),
      body,
    );
  }

  async loadMembers() {
    try {
      this.members = await this.client.members(this.key);
    } catch (e) {
      this.members = null;
      this.memberHost.replaceChildren(h('p', { class: 'field-hint', text: errorText(e) }));
      return;
    }
    this.drawMembers();
  }

  drawMembers() {
    const chat = this.chat;
    const res = this.members;
    if (!chat || !res) return;
    const rights = rightsIn(chat);
    const me = this.client.me?.id;
    const order = { creator: 0, admin: 1, member: 2 };
    const rows = [...res.participants].sort((a, b) => order[a.role] - order[b.role]);
    this.memberHost.replaceChildren(
      h('h3', {}, icon('people'), t('membersTitle')),
      h(
        'ul',
        { class: 'member-list', 'aria-label': t('membersTitle') },
        rows.map((p) => {
          const user = this.client.users.get(p.user_id) ?? { id: p.user_id, first_name: '…' };
          const name = displayName(user);
          const actions = [];
          if (p.user_id !== me && p.role !== 'creator') {
            if (rights.add_admins) {
              const on = p.role !== 'admin';
              actions.push({
                label: on ? t('promote') : t('demote'),
                icon: 'shield',
                action: () => this.act(() => this.client.setAdmin(this.key, p.user_id, on)),
              });
            }
            if (rights.ban_users && (p.role !== 'admin' || chat.role === 'creator')) {
              actions.push({
                label: t('removeMember'),
                icon: 'trash',
                danger: true,
                action: () => this.ban(p.user_id, name),
              });
            }
          }
          const row = h(
            'li',
            { class: 'member', dataset: { user: p.user_id } },
            h(
              'button',
              {
                type: 'button',
                class: 'member-main',
                onclick: () => {
                  if (p.user_id !== me) this.onOpenChat(`u${p.user_id}`);
                },
              },
              avatar(user, 'sm'),
              h(
                'span',
                { class: 'member-text' },
                h('span', { class: 'member-name', dir: 'auto', text: name }),
                user.username &&
                  h('bdi', { class: 'member-sub', dir: 'ltr', text: `@${user.username}` }),
              ),
              (p.role === 'creator' || p.role === 'admin') &&
                h('span', { class: 'role', text: p.rank || t(`role_${p.role}`) }),
            ),
          );
          if (actions.length) {
            const btn = iconButton(
              'menu',
              t('memberActions', { name }),
              () => {
                const r = btn.getBoundingClientRect();
                openMenu({
                  x: document.documentElement.dir === 'rtl' ? r.right : r.left,
                  y: r.bottom,
                  label: t('memberActions', { name }),
                  items: actions,
                  restore: btn,
                });
              },
              { cls: 'member-actions' },
            );
            row.append(btn);
          }
          return row;
        }),
      ),
    );
  }

  async act(work) {
    try {
      await work();
      await this.loadMembers();
    } catch (e) {
      toast(errorText(e));
    }
  }

  async ban(userId, name) {
    const answer = await confirmDialog({
      title: t('banTitle'),
      text: t('banConfirm', { name }),
      okLabel: t('removeMember'),
      danger: true,
    });
    if (answer.ok) await this.act(() => this.client.ban(this.key, userId));
  }

  async leave() {
    const chat = this.chat;
    const answer = await confirmDialog({
      title: chat.type === 'channel' ? t('leaveChannel') : t('leaveGroup'),
      text: t('leaveConfirm', { title: chatTitle(this.client, this.key) }),
      okLabel: chat.type === 'channel' ? t('leaveChannel') : t('leaveGroup'),
      danger: true,
    });
    if (!answer.ok) return;
    try {
      await this.client.leaveChat(this.key);
      this.onClose();
    } catch (e) {
      toast(errorText(e));
    }
  }
}
