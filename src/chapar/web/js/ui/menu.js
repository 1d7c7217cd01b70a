// Pop-ups: the message context menu, the confirm dialog and short notices (toasts).

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
 * gives the focus back to `restore`.
 */
export function openMenu({ x, y, label, items, restore }) {
  closeMenu();
  const buttons = items.map((it) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        class: `menu-item${it.danger ? ' danger' : ''}`,
        tabindex: '-1',
        onclick: () => {
          closeMenu();
          it.action();
        },
      },
      icon(it.icon),
      it.label,
    ),
  );
  const el = h('div', { class: 'menu', role: 'menu', 'aria-label': label }, buttons);
  el.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') buttons[(i + 1) % buttons.length].focus();
    else if (e.key === 'ArrowUp') buttons[(i - 1 + buttons.length) % buttons.length].focus();
    else if (e.key === 'Home') buttons[0].focus();
    else if (e.key === 'End') buttons.at(-1).focus();
    else if (e.key === 'Escape' || e.key === 'Tab') closeMenu();
    else return;
    e.preventDefault();
  });
  document.body.append(el);
  const r = el.getBoundingClientRect();
  el.style.left = `${Math.max(8, Math.min(x, innerWidth - r.width - 8))}px`;
  el.style.top = `${Math.max(8, Math.min(y, innerHeight - r.height - 8))}px`;
  openMenuEl = { el, restore };
  document.addEventListener('pointerdown', onOutside, true);
  buttons[0]?.focus();
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
