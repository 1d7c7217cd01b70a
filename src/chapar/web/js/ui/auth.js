// Sign-in: phone number, then the code (with the resend timer and the next way to send it),
// then the two-step password when the account has one (or an emailed recovery code), or a
// name for a new account.

import { asciiDigits, countdown, digits, errorText, getLang, setLang, t } from '../i18n.js';
import { h, icon } from './dom.js';

// Kept outside the screen so switching the language (which redraws it) keeps the step.
const flow = {
  step: 'phone',
  phone: '',
  hash: '',
  type: 'sms',
  nextType: null,
  resendAt: 0,
  code: '',
  error: '',
  hint: '',
  hasRecovery: false,
  emailPattern: '',
};

/** The number as the user typed it, loosely checked before asking the server. */
function looksLikePhone(raw) {
  const s = asciiDigits(raw).replace(/[\s\-().\u200c\u200e\u200f]/g, '');
  return /^(\+|00)?[0-9]{5,15}$/.test(s);
}

export function logo() {
  const el = h('div', { class: 'logo', 'aria-hidden': 'true' });
  // A letter on its way: the courier (chapar) the project is named after.
  el.innerHTML =
    '<svg viewBox="0 0 64 64" width="96" height="96"><circle cx="32" cy="32" r="32" fill="currentColor"/>' +
    '<g fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round">' +
    '<rect x="22" y="21" width="28" height="21" rx="3"/><path d="m22.5 23 13.5 10 13.5-10"/>' +
    '<path d="M11 26h6M8 32h9M12 38h5"/></g></svg>';
  return el;
}

export class AuthScreen {
  constructor(client) {
    this.client = client;
    this.el = h('div', { class: 'auth' });
    this.timer = null;
    this.render();
  }

  destroy() {
    clearInterval(this.timer);
  }

  render() {
    clearInterval(this.timer);
    const other = getLang() === 'fa' ? 'en' : 'fa';
    const card = h('div', { class: 'auth-card' }, logo());
    if (flow.step === 'phone') this.phoneStep(card);
    else if (flow.step === 'code') this.codeStep(card);
    else if (flow.step === 'password') this.passwordStep(card);
    else if (flow.step === 'recovery') this.recoveryStep(card);
    else this.nameStep(card);
    this.el.replaceChildren(
      h(
        'div',
        { class: 'auth-top' },
        h(
          'button',
          {
            type: 'button',
            class: 'text-btn lang-switch',
            lang: other,
            onclick: () => setLang(other),
          },
          icon('globe'),
          t('otherLanguage'),
        ),
      ),
      card,
    );
    const first = this.el.querySelector('input');
    first?.focus();
  }

  field(id, label, input) {
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
  }

  form(onsubmit, ...children) {
    const error = h('p', {
      class: 'form-error',
      id: 'auth-error',
      role: 'alert',
      text: flow.error,
    });
    children = children.filter(Boolean);
    const form = h(
      'form',
      {
        novalidate: true,
        onsubmit: (e) => {
          e.preventDefault();
          onsubmit(form);
        },
      },
      ...children,
    );
    children.at(-1).before(error);
    if (flow.error) {
      for (const i of form.querySelectorAll('input')) {
        i.setAttribute('aria-invalid', 'true');
        i.setAttribute('aria-describedby', 'auth-error');
      }
    }
    return form;
  }

  async run(button, work) {
    button.disabled = true;
    button.classList.add('busy');
    try {
      await work();
      flow.error = '';
    } catch (e) {
      flow.error = errorText(e);
    } finally {
      if (this.client.signedIn) {
        // Signed in: this screen is gone; the next sign-in (after a log-out) starts afresh.
        Object.assign(flow, { step: 'phone', code: '', error: '', first: '', last: '', hint: '' });
      } else {
        this.render();
      }
    }
  }

  phoneStep(card) {
    const input = h('input', {
      id: 'phone',
      type: 'tel',
      inputmode: 'tel',
      autocomplete: 'tel',
      dir: 'ltr',
      placeholder: digits(t('phonePlaceholder')),
      value: flow.phone,
      required: true,
    });
    card.append(
      h('h1', { text: t('signInTitle') }),
      h('p', { class: 'hint', text: t('phoneHint') }),
      this.form(
        (form) => {
          flow.phone = input.value.trim();
          if (!looksLikePhone(flow.phone)) {
            flow.error = errorText({ type: 'PHONE_NUMBER_INVALID' });
            this.render();
            return;
          }
          this.run(form.querySelector('[type=submit]'), () => this.sendCode());
        },
        this.field('phone', t('phoneLabel'), input),
        h('button', { type: 'submit', class: 'primary', text: t('next') }),
      ),
    );
  }

  async sendCode() {
    this.codeSent(await this.client.sendCode(flow.phone));
  }

  /** The code again, the next way (auth.resendCode: from the app to SMS, then a call). */
  async resendCode() {
    this.codeSent(await this.client.resendCode(flow.phone, flow.hash));
  }

  codeSent(sent) {
    Object.assign(flow, {
      step: 'code',
      hash: sent.phone_code_hash,
      type: sent.type,
      nextType: sent.next_type,
      resendAt: Date.now() + sent.timeout * 1000,
      code: '',
    });
  }

  codeStep(card) {
    const input = h('input', {
      id: 'code',
      type: 'text',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      dir: 'ltr',
      maxlength: 12,
      value: flow.code,
      required: true,
    });
    const phone = h('bdi', { dir: 'ltr', text: digits(flow.phone) });
    const hint = h('p', { class: 'hint' });
    const hintKey = { app: 'codeHintApp', call: 'codeHintCall' }[flow.type] ?? 'codeHint';
    const [before, after] = t(hintKey).split('{phone}');
    hint.append(before, phone, after ?? '');
    const resend = h('div', { class: 'resend', 'aria-live': 'polite' });
    const tick = () => {
      const left = Math.ceil((flow.resendAt - Date.now()) / 1000);
      if (left > 0) {
        resend.textContent = t('resendIn', { time: countdown(left) });
        return;
      }
      clearInterval(this.timer);
      const label = flow.nextType
        ? t('resendBy', { type: t(`codeType_${flow.nextType}`) })
        : t('resend');
      resend.replaceChildren(
        h('button', {
          type: 'button',
          class: 'text-btn',
          text: label,
          onclick: (e) =>
            this.run(e.currentTarget, () => (flow.nextType ? this.resendCode() : this.sendCode())),
        }),
      );
    };
    card.append(
      h('h1', { text: t('codeTitle') }),
      hint,
      h('button', {
        type: 'button',
        class: 'text-btn change-number',
        text: t('changeNumber'),
        onclick: () => {
          Object.assign(flow, { step: 'phone', error: '' });
          this.render();
        },
      }),
      this.form(
        (form) => {
          flow.code = asciiDigits(input.value).replace(/\s/g, '');
          if (!flow.code) {
            flow.error = errorText({ type: 'PHONE_CODE_EMPTY' });
            this.render();
            return;
          }
          this.run(form.querySelector('[type=submit]'), () => this.signIn());
        },
        this.field('code', t('codeLabel'), input),
        resend,
        h('button', { type: 'submit', class: 'primary', text: t('next') }),
      ),
    );
    tick();
    this.timer = setInterval(tick, 1000);
  }

  async signIn() {
    try {
      await this.client.signIn(flow.phone, flow.hash, flow.code);
    } catch (e) {
      if (e.type === 'SESSION_PASSWORD_NEEDED') {
        const pw = await this.client.passwordHint(flow.phone, flow.hash);
        Object.assign(flow, {
          step: 'password',
          hint: pw.hint ?? '',
          hasRecovery: !!pw.has_recovery,
        });
        return;
      }
      if (e.type !== 'PHONE_NUMBER_UNOCCUPIED') throw e;
      flow.step = 'name';
    }
  }

  passwordStep(card) {
    const input = h('input', {
      id: 'password',
      type: 'password',
      autocomplete: 'current-password',
      dir: 'ltr',
      required: true,
    });
    const field = this.field('password', t('passwordLabel'), input);
    if (flow.hint) {
      field.append(
        h('p', {
          class: 'field-hint',
          dir: 'auto',
          text: t('passwordHintShown', { hint: flow.hint }),
        }),
      );
    }
    card.append(
      h('h1', { text: t('passwordTitle') }),
      h('p', { class: 'hint', text: t('passwordStepHint') }),
      this.form(
        (form) => {
          if (!input.value) {
            flow.error = errorText({ type: 'PASSWORD_HASH_INVALID' });
            this.render();
            return;
          }
          this.run(form.querySelector('[type=submit]'), () =>
            this.client.checkPassword(flow.phone, flow.hash, input.value),
          );
        },
        // For password managers: whose password this is.
        h('input', {
          type: 'text',
          autocomplete: 'username',
          value: flow.phone,
          hidden: true,
          readonly: true,
        }),
        field,
        flow.hasRecovery &&
          h('button', {
            type: 'button',
            class: 'text-btn forgot',
            text: t('forgotPassword'),
            onclick: (e) =>
              this.run(e.currentTarget, async () => {
                const r = await this.client.requestRecovery(flow.phone, flow.hash);
                Object.assign(flow, { step: 'recovery', emailPattern: r.email_pattern });
              }),
          }),
        h('button', { type: 'submit', class: 'primary', text: t('next') }),
      ),
    );
  }

  recoveryStep(card) {
    const input = h('input', {
      id: 'recovery-code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      dir: 'ltr',
      maxlength: 12,
    });
    card.append(
      h('h1', { text: t('recoveryTitle') }),
      h('p', { class: 'hint', dir: 'auto', text: t('recoveryHint', { email: flow.emailPattern }) }),
      this.form(
        (form) => {
          const code = asciiDigits(input.value).replace(/\s/g, '');
          this.run(form.querySelector('[type=submit]'), () =>
            this.client.recoverPassword(flow.phone, flow.hash, code),
          );
        },
        this.field('recovery-code', t('codeLabel'), input),
        h('button', { type: 'submit', class: 'primary', text: t('next') }),
      ),
    );
  }

  nameStep(card) {
    const first = h('input', {
      id: 'first-name',
      autocomplete: 'given-name',
      dir: 'auto',
      maxlength: 64,
      value: flow.first ?? '',
    });
    const last = h('input', {
      id: 'last-name',
      autocomplete: 'family-name',
      dir: 'auto',
      maxlength: 64,
      value: flow.last ?? '',
    });
    card.append(
      h('h1', { text: t('nameTitle') }),
      h('p', { class: 'hint', text: t('nameHint') }),
      this.form(
        (form) => {
          flow.first = first.value;
          flow.last = last.value;
          if (!first.value.trim()) {
            flow.error = errorText({ type: 'FIRSTNAME_INVALID' });
            this.render();
            return;
          }
          this.run(form.querySelector('[type=submit]'), () =>
            this.client.signUp(
              flow.phone,
              flow.hash,
              flow.code,
              first.value.trim(),
              last.value.trim(),
            ),
          );
        },
        this.field('first-name', t('firstName'), first),
        this.field('last-name', t('lastName'), last),
        h('button', { type: 'submit', class: 'primary', text: t('signUp') }),
      ),
    );
  }
}
