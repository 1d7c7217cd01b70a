// Start a private chat with someone by @username or phone number.

import { errorText, t } from '../i18n.js';
import { h, iconButton } from './dom.js';

export class NewChat {
  constructor(client, { onClose, onOpen }) {
    this.client = client;
    this.el = h('section', { class: 'panel new-chat', 'aria-labelledby': 'new-chat-title' });
    const input = h('input', {
      id: 'new-chat-query',
      dir: 'ltr',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: '@username  /  +98…',
    });
    const error = h('p', { class: 'form-error', id: 'new-chat-error', role: 'alert' });
    const button = h('button', { type: 'submit', class: 'primary', text: t('startChat') });
    const form = h(
      'form',
      {
        class: 'panel-body',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const q = input.value.trim();
          if (!q) return;
          button.disabled = true;
          error.textContent = '';
          input.removeAttribute('aria-invalid');
          try {
            onOpen(await this.client.findPeer(q));
          } catch (err) {
            error.textContent = errorText(err);
            input.setAttribute('aria-invalid', 'true');
            input.setAttribute('aria-describedby', 'new-chat-error');
          } finally {
            button.disabled = false;
          }
        },
      },
      h('p', { class: 'hint', text: t('newChatHint') }),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'new-chat-query', text: t('usernameOrPhone') }),
        input,
      ),
      error,
      button,
    );
    this.el.append(
      h(
        'header',
        { class: 'panel-head' },
        iconButton('back', t('close'), onClose, { flip: true }),
        h('h2', { id: 'new-chat-title', text: t('newChat') }),
      ),
      form,
    );
    this.input = input;
  }

  focus() {
    this.input.focus();
  }
}
