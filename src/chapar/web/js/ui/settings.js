// The settings panel: profile (name, bio), username, language, theme, two-step
// verification, sessions, log out.

import { displayName } from '../core/client.js';
import { digits, errorText, getLang, setLang, shortDate, t } from '../i18n.js';
import { avatar, h, icon, iconButton } from './dom.js';
import { confirmDialog, toast } from './menu.js';
import { getThemePref, setThemePref } from './theme.js';
import { TwoStep } from './twostep.js';

let seq = 0;

/** A labelled group of radio buttons drawn as a segmented control. */
function segmented(name, label, options, current, onchange) {
  return h(
    'fieldset',
    { class: 'segmented' },
    h('legend', { text: label }),
    h(
      'div',
      { class: 'segments' },
      options.map(([value, text, lang]) => {
        const id = `${name}-${value}`;
        const input = h('input', { type: 'radio', name, id, value });
        input.checked = value === current;
        input.addEventListener('change', () => onchange(value));
        return h('span', { class: 'segment' }, input, h('label', { for: id, lang, text }));
      }),
    ),
  );
}

export class Settings {
  constructor(client, { onClose }) {
    this.client = client;
    this.onClose = onClose;
    this.el = h('section', { class: 'panel settings', 'aria-labelledby': 'settings-title' });
    this.about = null;
    this.sessions = null;
    this.twoStep = new TwoStep(client);
    this.render();
    this.load();
  }

  async load() {
    try {
      const [about, sessions] = await Promise.all([this.client.about(), this.client.sessions()]);
      this.about = about;
      this.sessions = sessions;
      this.render();
    } catch (e) {
      toast(errorText(e));
    }
  }

  field(label, input, hint) {
    const id = `f${++seq}`;
    input.id = id;
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, text: label }),
      input,
      hint && h('p', { class: 'field-hint', text: hint }),
    );
  }

  /** A small form with its own Save button and a line that says how it went. */
  form(cls, fields, save) {
    const status = h('p', { class: 'form-status', role: 'status' });
    const button = h('button', { type: 'submit', class: 'primary small', text: t('save') });
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
            await save();
            status.textContent = t('saved');
          } catch (err) {
            status.className = 'form-status error';
            status.textContent = errorText(err);
          } finally {
            button.disabled = false;
          }
        },
      },
      fields,
      h('div', { class: 'form-foot' }, status, button),
    );
  }

  /** The name, number and username at the top; redrawn when the profile changes. */
  refreshCard() {
    const me = this.client.me;
    if (!me) return;
    this.card.replaceChildren(
      avatar(me, 'lg'),
      h('div', { class: 'profile-name', dir: 'auto', text: displayName(me) }),
      h('bdi', { class: 'profile-phone', dir: 'ltr', text: digits(me.phone ?? '') }),
      me.username
        ? h('bdi', { class: 'profile-username', dir: 'ltr', text: `@${me.username}` })
        : '',
    );
  }

  render() {
    const me = this.client.me;
    if (!me) return;
    this.card = h('div', { class: 'profile-card' });
    this.refreshCard();
    const first = h('input', { dir: 'auto', maxlength: 64, value: me.first_name });
    const last = h('input', { dir: 'auto', maxlength: 64, value: me.last_name ?? '' });
    const bio = h('textarea', { dir: 'auto', maxlength: 140, rows: 2 });
    bio.value = this.about ?? '';
    bio.disabled = this.about === null;
    const username = h('input', {
      dir: 'ltr',
      maxlength: 32,
      autocomplete: 'off',
      spellcheck: 'false',
      value: me.username ?? '',
    });
    const profile = this.form(
      'profile',
      [
        this.field(t('firstName'), first),
        this.field(t('lastName'), last),
        this.field(t('bio'), bio),
      ],
      async () => {
        const fields = { first_name: first.value.trim(), last_name: last.value.trim() };
        if (!fields.first_name) throw { type: 'FIRSTNAME_INVALID' };
        if (this.about !== null) fields.about = bio.value.trim();
        await this.client.updateProfile(fields);
        if (fields.about !== undefined) this.about = fields.about;
      },
    );
    const usernameForm = this.form(
      'username',
      [this.field(t('username'), username, t('usernameHint'))],
      () => this.client.updateUsername(username.value.trim().replace(/^@/, '')),
    );
    this.el.replaceChildren(
      h(
        'header',
        { class: 'panel-head' },
        iconButton('back', t('close'), this.onClose, { flip: true }),
        h('h2', { id: 'settings-title', text: t('settings') }),
      ),
      h(
        'div',
        { class: 'panel-body' },
        this.card,
        h(
          'section',
          { class: 'settings-section' },
          h('h3', {}, icon('user'), t('editProfile')),
          profile,
          usernameForm,
        ),
        h(
          'section',
          { class: 'settings-section' },
          h('h3', {}, icon('globe'), t('language')),
          segmented(
            'lang',
            t('language'),
            [
              ['fa', 'فارسی', 'fa'],
              ['en', 'English', 'en'],
            ],
            getLang(),
            (v) => setLang(v),
          ),
          h('h3', {}, icon('moon'), t('theme')),
          segmented(
            'theme',
            t('theme'),
            [
              ['system', t('themeSystem')],
              ['light', t('themeLight')],
              ['dark', t('themeDark')],
            ],
            getThemePref(),
            (v) => setThemePref(v),
          ),
        ),
        this.twoStep.el,
        h(
          'section',
          { class: 'settings-section' },
          h('h3', {}, icon('devices'), t('sessions')),
          this.sessionList(),
        ),
        h(
          'button',
          { type: 'button', class: 'logout', onclick: () => this.logOut() },
          icon('logout', { flip: true }),
          t('logOut'),
        ),
      ),
    );
  }

  sessionList() {
    if (!this.sessions) return h('p', { class: 'field-hint', text: '…' });
    const sorted = [...this.sessions].sort(
      (a, b) => Number(b.current) - Number(a.current) || b.active_at - a.active_at,
    );
    return h(
      'ul',
      { class: 'sessions', 'aria-label': t('sessions') },
      sorted.map((s) => {
        const name = s.device || t('unknownDevice');
        return h(
          'li',
          { class: 'session' },
          h(
            'div',
            { class: 'session-text' },
            h('span', { class: 'session-device', dir: 'auto', text: name }),
            h('span', {
              class: 'session-detail',
              dir: 'auto',
              text: [s.app, digits(s.ip)].filter(Boolean).join(' · '),
            }),
            h('span', {
              class: 'session-detail',
              text: s.current ? t('thisDevice') : t('lastActive', { when: shortDate(s.active_at) }),
            }),
          ),
          !s.current &&
            h('button', {
              type: 'button',
              class: 'text-btn danger',
              text: t('terminate'),
              'aria-label': t('terminateSession', { name }),
              onclick: async () => {
                try {
                  await this.client.resetSession(s.id);
                  this.sessions = this.sessions.filter((x) => x.id !== s.id);
                  this.render();
                } catch (e) {
                  toast(errorText(e));
                }
              },
            }),
        );
      }),
    );
  }

  async logOut() {
    const answer = await confirmDialog({
      title: t('logOut'),
      text: t('logOutConfirm'),
      okLabel: t('logOut'),
      danger: true,
    });
    if (answer.ok) await this.client.logOut();
  }
}
