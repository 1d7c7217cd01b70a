// The signed-in screen: the sidebar (chat list, search, settings, new chat, new group and
// new channel panels) and the open conversation. On a phone-wide screen only one of the two
// shows at a time.
//
// The open chat lives in the URL (#u123 for a person, #c45 for a group or channel) and in
// history, so the browser's back button (and a phone's) closes it. An invite link opened in
// the address bar (/join/<hash>) offers to join once the client is in sync.

import { inviteHash } from '../core/client.js';
import { errorText, t } from '../i18n.js';
import { ChatList } from './chatlist.js';
import { Conversation } from './conversation.js';
import { h, icon, iconButton } from './dom.js';
import { closeMenu, confirmDialog, toast } from './menu.js';
import { NewChat } from './newchat.js';
import { NewGroup } from './newgroup.js';
import { Settings } from './settings.js';

const CHAT_HASH = /^#([uc]\d+)$/;

export class MainScreen {
  constructor(client, { panel = null } = {}) {
    this.client = client;
    this.conversation = null;
    this.panelView = null;
    this.dirty = new Set();
    this.timer = null;
    this.list = new ChatList(
      client,
      (key, opts) => this.open(key, opts),
      () => this.renderList(),
    );
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
    const invite = inviteHash(location.pathname);
    if (invite) {
      history.replaceState(null, '', `/${location.hash}`);
      client.whenOnline().then(() => this.offerInvite(invite));
    }
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
    const onOpen = (key) => {
      this.closePanel(false);
      this.open(key);
    };
    let view;
    if (name === 'settings') view = new Settings(this.client, { onClose });
    else if (name === 'newGroup' || name === 'newChannel') {
      view = new NewGroup(this.client, { broadcast: name === 'newChannel', onClose, onOpen });
    } else {
      view = new NewChat(this.client, {
        onClose,
        onOpen,
        onPanel: (next) => this.showPanel(next),
        onInvite: (hash) => {
          this.closePanel(false);
          this.offerInvite(hash);
        },
      });
    }
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

  /** An invite link: ask, join, open the chat. */
  async offerInvite(hash) {
    if (!this.client.signedIn) return;
    const answer = await confirmDialog({
      title: t('joinByLinkTitle'),
      text: t('joinByLinkConfirm'),
      okLabel: t('join'),
    });
    if (!answer.ok) return;
    try {
      this.open(await this.client.joinByInvite(hash));
    } catch (e) {
      toast(errorText(e));
    }
  }

  // -- the open chat --------------------------------------------------------------------
  /** Open a chat; `jump` scrolls to one of its messages (a search result). */
  open(key, { jump = null } = {}) {
    if (location.hash !== `#${key}`) history.pushState({ chat: key }, '', `#${key}`);
    this.route();
    if (jump && this.conversation?.key === key) {
      if (this.client.history(key).loaded) this.conversation.jumpTo(jump);
      else this.conversation.pendingJump = jump;
    }
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
      this.conversation = new Conversation(this.client, key, {
        onBack: () => this.back(),
        onOpenChat: (k) => this.open(k),
      });
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
    else if (this.conversation?.closeInfo()) return;
    else if (this.conversation) this.back();
  }

  // -- rendering ------------------------------------------------------------------------
  schedule({ what, key }) {
    this.dirty.add(
      what === 'messages' || what === 'typing' || what === 'chat' ? `${what}:${key}` : what,
    );
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
        dirty.has(`chat:${conv.key}`) ||
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
