// Create a group or a channel: its name, a description, and (groups) the people to add, each
// found by @username or phone number as in a new private chat.

import { displayName } from '../core/client.js';
import { errorText, t } from '../i18n.js';
import { avatar, h, icon, iconButton } from './dom.js';

let seq = 0;

export class NewGroup {
  constructor(client, { broadcast, onClose, onOpen }) {
    this.client = client;
    this.broadcast = broadcast;
    this.picked = new Map(); // user id -> user
    const id = `ng${++seq}`;
    this.el = h('section', {
      class: 'panel new-group',
      'aria-labelledby': `${id}-title`,
    });
    this.title = h('input', { id: `${id}-name`, dir: 'auto', maxlength: 128, autocomplete: 'off' });
    const about = h('textarea', { id: `${id}-about`, dir: 'auto', maxlength: 255, rows: 2 });
    this.who = h('input', {
      id: `${id}-who`,
      dir: 'ltr',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: '@username  /  +98…',
      onkeydown: (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          this.addPerson();
        }
      },
    });
    this.chips = h('ul', { class: 'chips', 'aria-label': t('chosenMembers') });
    this.error = h('p', { class: 'form-error', id: `${id}-error`, role: 'alert' });
    const button = h('button', { type: 'submit', class: 'primary', text: t('create') });
    const form = h(
      'form',
      {
        class: 'panel-body',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const title = this.title.value.trim();
          this.error.textContent = '';
          this.title.removeAttribute('aria-invalid');
          if (!title) {
            this.fail(this.title, { type: 'TITLE_EMPTY' });
            return;
          }
          if (this.who.value.trim() && !(await this.addPerson())) return;
          button.disabled = true;
          try {
            const key = await this.client.createChat({
              title,
              about: about.value.trim(),
              broadcast,
              users: [...this.picked.keys()],
            });
            onOpen(key);
          } catch (err) {
            this.fail(this.title, err);
          } finally {
            button.disabled = false;
          }
        },
      },
      h('p', { class: 'hint', text: broadcast ? t('channelHint') : t('groupHint') }),
      h(
        'div',
        { class: 'field' },
        h('label', { for: this.title.id, text: broadcast ? t('channelName') : t('groupName') }),
        this.title,
      ),
      h('div', { class: 'field' }, h('label', { for: about.id, text: t('description') }), about),
      !broadcast &&
        h(
          'div',
          { class: 'field' },
          h('label', { for: this.who.id, text: t('addMembers') }),
          h(
            'div',
            { class: 'add-row' },
            this.who,
            h('button', {
              type: 'button',
              class: 'text-btn',
              text: t('add'),
              onclick: () => this.addPerson(),
            }),
          ),
          h('p', { class: 'field-hint', text: t('addMembersHint') }),
          this.chips,
        ),
      this.error,
      button,
    );
    this.el.append(
      h(
        'header',
        { class: 'panel-head' },
        iconButton('back', t('close'), onClose, { flip: true }),
        h(
          'h2',
          { id: `${id}-title` },
          icon(broadcast ? 'megaphone' : 'people'),
          broadcast ? t('newChannel') : t('newGroup'),
        ),
      ),
      form,
    );
  }

  focus() {
    this.title.focus();
  }

  fail(input, err) {
    this.error.textContent = errorText(err);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', this.error.id);
  }

  /** Find the person typed in the box and add them as a chip; false when not found. */
  async addPerson() {
    const q = this.who.value.trim();
    if (!q) return true;
    this.error.textContent = '';
    this.who.removeAttribute('aria-invalid');
    try {
      const found = await this.client.findPeer(q);
      if (!found.key || found.key[0] !== 'u') throw { type: 'USERNAME_NOT_OCCUPIED' };
      const uid = Number(found.key.slice(1));
      if (uid !== this.client.me?.id) this.picked.set(uid, this.client.users.get(uid));
      this.who.value = '';
      this.drawChips();
      this.who.focus();
      return true;
    } catch (err) {
      this.fail(this.who, err);
      return false;
    }
  }

  drawChips() {
    this.chips.replaceChildren(
      ...[...this.picked].map(([uid, user]) => {
        const name = displayName(user) || `#${uid}`;
        return h(
          'li',
          { class: 'chip' },
          avatar(user ?? { id: uid, first_name: name }, 'xs'),
          h('span', { dir: 'auto', text: name }),
          iconButton('close', t('removeFromList', { name }), () => {
            this.picked.delete(uid);
            this.drawChips();
            this.who.focus();
          }),
        );
      }),
    );
  }
}
