// Pop-ups: the message context menu (with reactions), the confirm dialog, a pick-one list
// (forwarding) and short notices (toasts).

import { t } from '../i18n.js';
import { h, icon } from './dom.js';

let openMenuEl = null;

export function closeMenu() {
  if (!openMenuEl) return;
  const { el, restore } = openMenuEl;
  openMenuEl = null;
  el.remove();
  document.removeEventListener('pointerdown', onOutside, true);
  restore?.focus({ preventScroll: true });
}

function onOutside(e) {
  if (openMenuEl && !openMenuEl.el.contains(e.target)) closeMenu();
}

/**
 * A menu of actions at (x, y), keyboard-usable: arrows move, Enter runs, Escape closes and
 * gives the focus back to `restore`. `reactions` ({emojis, current, onPick}) adds a row of
 * emoji to react with above the items.
 */
export function openMenu({ x, y, label, items, restore, reactions = null }) {
  closeMenu();
  const run = (action) => () => {
    closeMenu();
    action();
  };
  const emojiButtons = (reactions?.emojis ?? []).map((emoji) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitemradio',
        'aria-checked': String(emoji === reactions.current),
        'aria-label': t('reactWith', { emoji }),
        class: 'menu-reaction',
        tabindex: '-1',
        onclick: run(() => reactions.onPick(emoji === reactions.current ? '' : emoji)),
      },
      emoji,
    ),
  );
  const itemButtons = items.map((it) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        class: `menu-item${it.danger ? ' danger' : ''}`,
        tabindex: '-1',
        onclick: run(it.action),
      },
      icon(it.icon, { flip: !!it.flip }),
      it.label,
    ),
  );
  const buttons = [...emojiButtons, ...itemButtons];
  const el = h(
    'div',
    { class: 'menu', role: 'menu', 'aria-label': label },
    emojiButtons.length > 0 &&
      h('div', { class: 'menu-reactions', role: 'group', 'aria-label': t('react') }, emojiButtons),
    itemButtons,
  );
  el.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' || (e.key === 'ArrowRight' && i < emojiButtons.length)) {
      buttons[(i + 1) % buttons.length].focus();
    } else if (e.key === 'ArrowUp' || (e.key === 'ArrowLeft' && i < emojiButtons.length)) {
      buttons[(i - 1 + buttons.length) % buttons.length].focus();
    } else if (e.key === 'Home') buttons[0].focus();
    else if (e.key === 'End') buttons.at(-1).focus();
    else if (e.key === 'Escape' || e.key === 'Tab') closeMenu();
    else return;
    e.preventDefault();
  });
  document.body.append(el);
  const r = el.getBoundingClientRect();
  // Opens towards the reading direction's end from the point: leftwards in Persian.
  const from = document.documentElement.dir === 'rtl' ? x - r.width : x;
  el.style.left = `${Math.max(8, Math.min(from, innerWidth - r.width - 8))}px`;
  el.style.top = `${Math.max(8, Math.min(y, innerHeight - r.height - 8))}px`;
  openMenuEl = { el, restore };
  document.addEventListener('pointerdown', onOutside, true);
  (itemButtons[0] ?? buttons[0])?.focus();
}

/**
 * A modal list to pick one of `options` ({key, label, avatar}) from, with a filter box;
 * resolves the key picked, or null.
 */
export function pickDialog({ title, options, filterLabel }) {
  return new Promise((resolve) => {
    let picked = null;
    const list = h('ul', { class: 'pick-list', 'aria-label': title });
    const filter = h('input', {
      type: 'search',
      class: 'search-input',
      placeholder: t('search'),
      'aria-label': filterLabel,
      oninput: () => draw(),
    });
    const draw = () => {
      const q = filter.value.trim().toLocaleLowerCase();
      list.replaceChildren(
        ...options
          .filter((o) => !q || o.label.toLocaleLowerCase().includes(q))
          .map((o) =>
            h(
              'li',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'chat-row pick-row',
                  dataset: { chat: o.key },
                  onclick: () => {
                    picked = o.key;
                    dialog.close();
                  },
                },
                o.avatar,
                h('span', { class: 'chat-name', dir: 'auto', text: o.label }),
              ),
            ),
          ),
      );
    };
    const dialog = h(
      'dialog',
      { class: 'confirm pick', 'aria-labelledby': 'pick-title' },
      h(
        'div',
        { class: 'pick-head' },
        h('h2', { id: 'pick-title', text: title }),
        h('button', {
          type: 'button',
          class: 'text-btn',
          text: t('cancel'),
          onclick: () => dialog.close(),
        }),
      ),
      filter,
      list,
    );
    draw();
    const restore = document.activeElement;
    dialog.addEventListener('close', () => {
      resolve(picked);
      dialog.remove();
      restore?.focus?.({ preventScroll: true });
    });
    document.body.append(dialog);
    dialog.showModal();
    filter.focus();
  });
}

/** Ask before doing something; resolves {ok, checked}. */
export function confirmDialog({ title, text, checkbox = null, okLabel, danger = false }) {
  return new Promise((resolve) => {
    const box = checkbox && h('input', { type: 'checkbox', id: 'confirm-check' });
    if (box) box.checked = checkbox.checked;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title', text: title }),
        h('p', { text }),
        box && h('label', { class: 'check' }, box, checkbox.label),
        h(
          'div',
          { class: 'dialog-buttons' },
          h('button', { value: 'cancel', class: 'text-btn', text: t('cancel') }),
          h('button', {
            value: 'ok',
            class: `text-btn${danger ? ' danger' : ''}`,
            text: okLabel,
            autofocus: true,
          }),
        ),
      ),
    );
    const restore = document.activeElement;
    dialog.addEventListener('close', () => {
      resolve({ ok: dialog.returnValue === 'ok', checked: box?.checked ?? false });
      dialog.remove();
      restore?.focus?.({ preventScroll: true });
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

let toastArea = null;

/** A short notice at the bottom of the screen, read out by screen readers. */
export function toast(text) {
  if (!toastArea) {
    toastArea = h('div', { class: 'toasts', role: 'alert', 'aria-live': 'assertive' });
    document.body.append(toastArea);
  }
  const el = h('div', { class: 'toast', text });
  toastArea.append(el);
  setTimeout(() => el.remove(), 4000);
}
