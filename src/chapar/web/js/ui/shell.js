// The signed-in screen: the sidebar (chat list, search, settings and new-chat panels) and the
// open conversation. On a phone-wide screen only one of the two shows at a time.
//
// The open chat lives in the URL (#u123) and in history, so the browser's back button (and a
// phone's) closes it.

import { t } from '../i18n.js';
import { ChatList } from './chatlist.js';
import { Conversation } from './conversation.js';
import { h, icon, iconButton } from './dom.js';
import { closeMenu } from './menu.js';
import { NewChat } from './newchat.js';
import { Settings } from './settings.js';

const CHAT_HASH = /^#(u\d+)$/;

export class MainScreen {
  constructor(client, { panel = null } = {}) {
    this.client = client;
    this.conversation = null;
    this.panelView = null;
    this.dirty = new Set();
    this.timer = null;
    this.list = new ChatList(client, (key) => this.open(key));
    this.build();
    this.onChange = (e) => this.schedule(e.detail);
    this.onPop = () => this.route();
    this.onKey = (e) => this.onGlobalKey(e);
    client.addEventListener('change', this.onChange);
    window.addEventListener('popstate', this.onPop);
    document.addEventListener('keydown', this.onKey);
    this.route();
    if (panel) this.showPanel(panel);
    this.renderList();
  }

  destroy() {
    this.client.removeEventListener('change', this.onChange);
    window.removeEventListener('popstate', this.onPop);
    document.removeEventListener('keydown', this.onKey);
    clearTimeout(this.timer);
    this.conversation?.destroy();
    closeMenu();
  }

  get panel() {
    return this.panelView?.name ?? null;
  }

  build() {
    this.search = h('input', {
      type: 'search',
      class: 'search-input',
      placeholder: t('search'),
      'aria-label': t('searchChats'),
      oninput: () => {
        this.list.setQuery(this.search.value);
        this.renderList();
      },
      onkeydown: (e) => {
        if (e.key === 'Escape' && this.search.value) {
          e.preventDefault();
          this.search.value = '';
          this.list.setQuery('');
          this.renderList();
        }
      },
    });
    this.panelHost = h('div', { class: 'panel-host' });
    this.sidebar = h(
      'aside',
      { class: 'sidebar', 'aria-label': t('chats') },
      h(
        'header',
        { class: 'sidebar-head' },
        iconButton('menu', t('menu'), () => this.showPanel('settings'), { cls: 'menu-btn' }),
        h('label', { class: 'search' }, icon('search'), this.search),
      ),
      this.list.el,
      iconButton('pencil', t('newChat'), () => this.showPanel('new'), { cls: 'fab' }),
      this.panelHost,
    );
    this.pane = h('main', { class: 'pane' });
    this.el = h('div', { class: 'main' }, this.sidebar, this.pane);
  }

  // -- panels ---------------------------------------------------------------------------
  showPanel(name) {
    this.closePanel(false);
    const onClose = () => this.closePanel();
    const view =
      name === 'settings'
        ? new Settings(this.client, { onClose })
        : new NewChat(this.client, {
            onClose,
            onOpen: (key) => {
              this.closePanel(false);
              this.open(key);
            },
          });
    view.name = name;
    this.panelView = view;
    this.panelHost.append(view.el);
    this.sidebar.classList.add('has-panel');
    if (view.focus) view.focus();
    else view.el.querySelector('button')?.focus();
  }

  closePanel(refocus = true) {
    if (!this.panelView) return;
    const name = this.panelView.name;
    this.panelView.el.remove();
    this.panelView = null;
    this.sidebar.classList.remove('has-panel');
    if (refocus) this.sidebar.querySelector(name === 'settings' ? '.menu-btn' : '.fab')?.focus();
  }

  // -- the open chat --------------------------------------------------------------------
  open(key) {
    if (location.hash !== `#${key}`) history.pushState({ chat: key }, '', `#${key}`);
    this.route();
  }

  back() {
    if (history.state?.chat) history.back();
    else {
      history.replaceState(null, '', location.pathname);
      this.route();
    }
  }

  route() {
    const m = CHAT_HASH.exec(location.hash);
    const key = m ? m[1] : null;
    if (this.routed && key === (this.conversation?.key ?? null)) return;
    this.routed = true;
    this.conversation?.destroy();
    this.conversation = null;
    this.client.setOpenChat(key);
    if (key) {
      this.conversation = new Conversation(this.client, key, { onBack: () => this.back() });
      this.pane.replaceChildren(this.conversation.el);
      this.conversation.render();
      this.conversation.focusComposer();
    } else {
      this.pane.replaceChildren(
        h('div', { class: 'pane-empty' }, h('span', { class: 'pill', text: t('selectChat') })),
      );
    }
    this.el.dataset.view = key ? 'chat' : 'list';
    this.renderList();
  }

  onGlobalKey(e) {
    if (e.defaultPrevented || e.key !== 'Escape' || document.querySelector('dialog[open], .menu')) {
      return;
    }
    if (this.panelView) this.closePanel();
    else if (this.conversation) this.back();
  }

  // -- rendering ------------------------------------------------------------------------
  schedule({ what, key }) {
    this.dirty.add(what === 'messages' || what === 'typing' ? `${what}:${key}` : what);
    if (what === 'typing') this.dirty.add('dialogs');
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), 0);
  }

  flush() {
    this.timer = null;
    const dirty = this.dirty;
    this.dirty = new Set();
    const conv = this.conversation;
    if (dirty.has('dialogs') || dirty.has('me') || dirty.has('status')) this.renderList();
    if (
      conv &&
      (dirty.has(`messages:${conv.key}`) ||
        dirty.has(`typing:${conv.key}`) ||
        dirty.has('me') ||
        dirty.has('dialogs'))
    ) {
      conv.render();
    }
    if (dirty.has('me') && this.panelView?.name === 'settings') this.panelView.refreshCard();
  }

  renderList() {
    this.list.render(this.conversation?.key ?? null);
  }
}
