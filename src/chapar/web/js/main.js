// Entry point: picks the screen (sign-in or chats), keeps the connection banner, and redraws
// when the language changes.

import { Client } from './core/client.js';
import { applyDocumentLang, onLangChange, t } from './i18n.js';
import { AuthScreen } from './ui/auth.js';
import { MainScreen } from './ui/shell.js';
import { applyTheme } from './ui/theme.js';

const BANNER_DELAY_MS = 600;

const client = new Client();
const app = document.getElementById('app');
const banner = document.getElementById('conn-banner');
let screen = null;
let bannerTimer = null;

function show(options = {}) {
  screen?.destroy();
  screen = client.signedIn ? new MainScreen(client, options) : new AuthScreen(client);
  app.replaceChildren(screen.el);
}

/** "Connecting…" while the socket is down, shown only if that lasts (no flicker). */
function updateBanner() {
  const status = client.status;
  const text = {
    offline: t('waitingNetwork'),
    connecting: t('connecting'),
    updating: t('updating'),
  }[status];
  clearTimeout(bannerTimer);
  if (!text) {
    banner.hidden = true;
    banner.dataset.status = 'online';
    return;
  }
  const reveal = () => {
    banner.querySelector('.banner-text').textContent = text;
    banner.dataset.status = status;
    banner.hidden = false;
  };
  if (banner.hidden) bannerTimer = setTimeout(reveal, BANNER_DELAY_MS);
  else reveal();
}

client.addEventListener('change', (e) => {
  if (e.detail.what === 'auth') show();
  if (e.detail.what === 'auth' || e.detail.what === 'status') updateBanner();
});
onLangChange(() => {
  show({ panel: screen?.panel ?? null });
  updateBanner();
});

applyTheme();
applyDocumentLang();
client.boot();
show();
updateBanner();
