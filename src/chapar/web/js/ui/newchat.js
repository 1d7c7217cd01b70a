// Start something new: a group or a channel (their own panels), or open a chat by @username
// (a person, or a public group or channel), phone number, or invite link.

import { errorText, t } from '../i18n.js';
import { h, icon, iconButton } from './dom.js';

export class NewChat {
  constructor(client, { onClose, onOpen, onPanel, onInvite }) {
    this.client = client;
    this.el = h('section', { class: 'panel new-chat', 'aria-labelledby': 'new-chat-title' });
    const input = h('input', {
      id: 'new-chat-query',
      dir: 'ltr',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: '@username  /  +98…  /  …/join/…',
    });
    const error = h('p', { class: 'form-error', id: 'new-chat-error', role: 'alert' });
    const button = h('button', { type: 'submit', class: 'primary', text: t('startChat') });
    const form = h(
      'form',
      {
        class: 'new-chat-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const q = input.value.trim();
          if (!q) return;
          button.disabled = true;
          error.textContent = '';
          input.removeAttribute('aria-invalid');
          try {
            const found = await this.client.findPeer(q);
            if (found.invite) onInvite(found.invite);
            else onOpen(found.key);
          } catch (err) {
            error.textContent = errorText(err);
            input.setAttribute('aria-invalid', 'true');
            input.setAttribute('aria-describedby', 'new-chat-error');
          } finally {
            button.disabled = false;
          }
        },
      },
      h('p', { class: 'hint', text: t('newChatHintFull') }),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'new-chat-query', text: t('usernameOrPhone') }),
        input,
      ),
      error,
      button,
    );
    const entry = (name, label, panel) =>
      h(
        'li',
        {},
        h(
          'button',
          { type: 'button', class: 'menu-item new-entry', onclick: () => onPanel(panel) },
          icon(name),
          label,
        ),
      );
    this.el.append(
      h(
        'header',
        { class: 'panel-head' },
        iconButton('back', t('close'), onClose, { flip: true }),
        h('h2', { id: 'new-chat-title', text: t('newChat') }),
      ),
      h(
        'div',
        { class: 'panel-body' },
        h(
          'ul',
          { class: 'new-entries' },
          entry('people', t('newGroup'), 'newGroup'),
          entry('megaphone', t('newChannel'), 'newChannel'),
        ),
        form,
      ),
    );
    this.input = input;
  }

  focus() {
    this.input.focus();
  }
}
