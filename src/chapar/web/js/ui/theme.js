// Light and dark themes: the user's choice, or the system's when they chose "system".

const KEY = 'chapar.theme';
const dark = matchMedia('(prefers-color-scheme: dark)');

export function getThemePref() {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

export function setThemePref(pref) {
  if (pref === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, pref);
  applyTheme();
}

export function applyTheme() {
  const pref = getThemePref();
  const theme = pref === 'system' ? (dark.matches ? 'dark' : 'light') : pref;
  document.documentElement.dataset.theme = theme;
  document
    .querySelector('meta[name="theme-color"]')
    ?.setAttribute('content', theme === 'dark' ? '#17212b' : '#ffffff');
}

dark.addEventListener('change', applyTheme);
