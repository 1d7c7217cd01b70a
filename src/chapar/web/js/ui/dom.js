// Small DOM helpers: element builder, keyed list reconciliation, icons and avatars.

/**
 * h('button', {class: 'x', 'aria-label': 'Send', onclick: fn}, child, 'text', [more])
 * Props starting with "on" are listeners; `text` sets textContent; `html` sets innerHTML
 * (only ever with this module's own icon markup); false/null props and children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === false || v == null) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'html') el.innerHTML = v;
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * Make `container`'s children match `items` in order, reusing elements by key: create(item)
 * builds one, update(el, item) refreshes it when its `sig` (a string) changed.
 */
export function reconcile(container, items, { key, sig, create, update }) {
  const old = new Map();
  for (const el of container.children) if (el.dataset.key) old.set(el.dataset.key, el);
  let cursor = container.firstElementChild;
  const keep = new Set();
  for (const item of items) {
    const k = key(item);
    const s = sig(item);
    keep.add(k);
    let el = old.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
      el.dataset.sig = s;
    } else if (el.dataset.sig !== s) {
      update(el, item);
      el.dataset.sig = s;
    }
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [k, el] of old) if (!keep.has(k)) el.remove();
}

const PATHS = {
  menu: 'M3 6h18M3 12h18M3 18h18',
  pencil: 'M4 20h4L19 9a2.8 2.8 0 0 0-4-4L4 16v4zM13.5 6.5l4 4',
  search: 'M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM20 20l-4-4',
  back: 'M19 12H5M11 6l-6 6 6 6',
  send: 'M4 12 20 4l-4 16-4-7-8-1zM12 13l8-9',
  close: 'M6 6l12 12M18 6 6 18',
  check: 'M5 12.5l4.5 4.5L19 7',
  checks: 'M2 12.5l4.5 4.5L16 7M11 16l1 1L22 7',
  clock: 'M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16zM12 8v4l3 2',
  reply: 'M10 8V4l-7 7 7 7v-4c5 0 8 1.5 11 5-1-5-4-10-11-11z',
  edit: 'M4 20h4L19 9a2.8 2.8 0 0 0-4-4L4 16v4z',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  alert: 'M12 3 2 20h20L12 3zM12 10v4M12 17v.5',
  logout: 'M15 4h4v16h-4M10 16l-4-4 4-4M6 12h10',
  globe: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18',
  moon: 'M20 14A8 8 0 0 1 10 4a8 8 0 1 0 10 10z',
  devices: 'M3 5h14v10H3zM1 19h18M19 9h4v10h-4z',
  at: 'M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0zM16 12v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-4 7.5',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
  down: 'M6 9l6 6 6-6',
  attach: 'M20.5 11.5l-8.3 8.3a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5',
  file: 'M6 3h8l5 5v13H6zM14 3v5h5',
  eye: 'M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  pin: 'M9 4h6l-1 6 3 3H7l3-3zM12 13v8',
  bell: 'M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 21a2 2 0 0 0 4 0',
  muted: 'M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 21a2 2 0 0 0 4 0M3 3l18 18',
  forward: 'M14 8V4l7 7-7 7v-4c-5 0-8 1.5-11 5 1-5 4-10 11-11z',
  people:
    'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21a7 7 0 0 1 14 0M16 3.5a4 4 0 0 1 0 7.5M18 14a6 6 0 0 1 4 7',
  megaphone: 'M3 10v4h3l8 5V5l-8 5H3zM18 9a4 4 0 0 1 0 6M6 14l1 6h3l-1-5',
  link: 'M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1',
  info: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v6M12 7.5v.5',
  smile: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM8 14s1.5 2 4 2 4-2 4-2M9 9.5v.5M15 9.5v.5',
  download: 'M12 4v12M6 10l6 6 6-6M4 20h16',
  lock: 'M6 11h12v10H6zM8 11V8a4 4 0 0 1 8 0v3',
  shield: 'M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z',
  plus: 'M12 5v14M5 12h14',
  image: 'M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9.5v.5',
};

/** An inline SVG icon; `flip` mirrors it in right-to-left layouts (arrows). */
export function icon(name, { flip = false, cls = '' } = {}) {
  const span = document.createElement('span');
  span.className = `icon${flip ? ' flip' : ''}${cls ? ` ${cls}` : ''}`;
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="${PATHS[name]}"/></svg>`;
  return span;
}

export function iconButton(name, label, onclick, { flip = false, cls = '' } = {}) {
  return h(
    'button',
    { type: 'button', class: `icon-btn ${cls}`, 'aria-label': label, title: label, onclick },
    icon(name, { flip }),
  );
}

const AVATAR_COLORS = 8;

/** First letters of the first and last name (whole graphemes, so emoji and Persian work). */
export function initials(first = '', last = '') {
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const firstOf = (s) => {
    const it = seg.segment(s.trim())[Symbol.iterator]().next();
    return it.done ? '' : it.value.segment;
  };
  return (firstOf(first) + firstOf(last)).toUpperCase() || '?';
}

/** A group's or channel's avatar: the first letters of its first two words. */
export function chatAvatar(chat, size = 'md') {
  const [first = '', second = ''] = (chat?.title ?? '').trim().split(/\s+/);
  return avatar({ id: chat?.id ?? 0, first_name: first, last_name: second }, size);
}

export function avatar(user, size = 'md') {
  const id = user?.id ?? 0;
  return h('span', {
    class: `avatar avatar-${size} avatar-c${id % AVATAR_COLORS}`,
    'aria-hidden': 'true',
    text: initials(user?.first_name ?? '', user?.last_name ?? ''),
  });
}
