// Two-step verification in the settings: set a password (with a hint and an optional
// recovery email, confirmed by an emailed code), change it, or remove it. The current
// password is asked for every change, as the server requires.

import { errorText, t } from '../i18n.js';
import { h, icon } from './dom.js';

let seq = 0;

export class TwoStep {
  constructor(client) {
    this.client = client;
    this.state = null; // account.getPassword's answer
    this.notice = null; // what the last change did
    this.el = h('section', { class: 'settings-section two-step' });
    this.render();
    this.load();
  }

  async load() {
    try {
      this.state = await this.client.passwordSettings();
    } catch (e) {
      this.state = { error: e };
    }
    this.render();
  }

  field(label, input) {
    const id = `tw${++seq}`;
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
  }

  password(autocomplete) {
    return h('input', { type: 'password', dir: 'ltr', autocomplete, maxlength: 256 });
  }

  /** A form whose button runs `save`; the outcome is said in its status line. */
  form(cls, fields, label, save, { danger = false } = {}) {
    const status = h('p', { class: 'form-status', role: 'status' });
    const button = h('button', {
      type: 'submit',
      class: danger ? 'text-btn danger' : 'primary small',
      text: label,
    });
    return h(
      'form',
      {
        class: `settings-form ${cls}`,
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          button.disabled = true;
          status.className = 'form-status';
          status.textContent = '';
          try {
            this.notice = await save();
            this.render();
          } catch (err) {
            status.className = 'form-status error';
            status.textContent = err.message && !err.type ? err.message : errorText(err);
          } finally {
            button.disabled = false;
          }
        },
      },
      fields,
      h('div', { class: 'form-foot' }, status, button),
    );
  }

  render() {
    const s = this.state;
    const title = h('h3', {}, icon('lock'), t('twoStep'));
    if (!s) {
      this.el.replaceChildren(title, h('p', { class: 'field-hint', text: '…' }));
      return;
    }
    if (s.error) {
      this.el.replaceChildren(title, h('p', { class: 'field-hint', text: errorText(s.error) }));
      return;
    }
    const current = this.password('current-password');
    const next = this.password('new-password');
    const repeat = this.password('new-password');
    const hint = h('input', { dir: 'auto', maxlength: 64, value: s.hint ?? '' });
    const email = h('input', { type: 'email', dir: 'ltr', autocomplete: 'email', maxlength: 254 });
    // For password managers: whose password this is.
    const account = h('input', {
      type: 'text',
      autocomplete: 'username',
      value: this.client.me?.phone ?? '',
      hidden: true,
      readonly: true,
    });
    const fields = [
      account,
      s.has_password && this.field(t('currentPassword'), current),
      this.field(t('newPassword'), next),
      this.field(t('repeatPassword'), repeat),
      this.field(t('passwordHintLabel'), hint),
      this.field(t('recoveryEmail'), email),
    ].filter(Boolean);
    const setForm = this.form(
      'set-password',
      fields,
      s.has_password ? t('changePassword') : t('setPassword'),
      async () => {
        if (!next.value) throw { type: 'PASSWORD_EMPTY' };
        if (next.value !== repeat.value) throw new Error(t('passwordsDiffer'));
        const params = { new_password: next.value, hint: hint.value.trim() };
        if (s.has_password) params.current_password = current.value;
        if (email.value.trim()) params.email = email.value.trim();
        this.state = await this.client.updatePassword(params);
        return t('passwordSaved');
      },
    );
    const parts = [
      title,
      h('p', {
        class: 'field-hint two-step-state',
        text: s.has_password ? t('twoStepOn') : t('twoStepOff'),
      }),
      h('p', { class: 'form-status two-step-notice', role: 'status', text: this.notice ?? '' }),
      setForm,
    ];
    if (s.email_unconfirmed_pattern) {
      const code = h('input', { inputmode: 'numeric', dir: 'ltr', autocomplete: 'one-time-code' });
      parts.push(
        this.form(
          'confirm-email',
          [this.field(t('emailCode', { email: s.email_unconfirmed_pattern }), code)],
          t('confirm'),
          async () => {
            this.state = await this.client.confirmPasswordEmail(code.value.trim());
            return t('saved');
          },
        ),
      );
    }
    if (s.has_password) {
      const currentForRemove = this.password('current-password');
      parts.push(
        this.form(
          'remove-password',
          [account.cloneNode(), this.field(t('currentPassword'), currentForRemove)],
          t('removePassword'),
          async () => {
            this.state = await this.client.updatePassword({
              current_password: currentForRemove.value,
              new_password: '',
            });
            return t('passwordRemoved');
          },
          { danger: true },
        ),
      );
    }
    this.el.replaceChildren(...parts);
  }
}
