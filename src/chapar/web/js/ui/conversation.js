// One open chat: the header (click it for a group's or channel's info), the pinned message,
// the messages (bubbles, date separators, service notes, replies, photos and files,
// reactions, channel views and signatures, ticks) and the composer (Enter sends, Shift+Enter
// breaks the line, Escape cancels a reply or an edit, the up arrow in an empty composer edits
// one's last message; files by the attach button, drag and drop or paste, with the text
// typed as the first file's caption). Channels show subscribers a note instead of the
// composer; public chats not joined, a Join button.

import { isMember, rightsIn } from '../core/chats.js';
import { digits, errorText, t } from '../i18n.js';
import { Bubbles, REACTIONS } from './bubbles.js';
import { ChatInfo } from './chatinfo.js';
import { chatTitle } from './chatlist.js';
import {
  chatAvatarOf,
  chatCount,
  lastSeenText,
  previewText,
  senderName,
  typingText,
} from './describe.js';
import { h, icon, iconButton, reconcile } from './dom.js';
import { confirmDialog, openMenu, pickDialog, toast } from './menu.js';

const TYPING_EVERY_MS = 4000;
const VIEWS_DELAY_MS = 400;
const JUMP_PAGES = 20;
const CAPTION_MAX = 1024; // the server's max_caption_length (config.py), in characters
const drafts = new Map(); // chat key -> unsent text, while the tab lives

export class Conversation {
  constructor(client, key, { onBack, onOpenChat }) {
    this.client = client;
    this.key = key;
    this.onOpenChat = onOpenChat;
    this.replyTo = null;
    this.editing = null;
    this.lastTypingSent = 0;
    this.firstRender = true;
    this.forceBottom = false;
    this.pendingJump = null;
    this.info = null;
    this.toView = new Set();
    this.viewTimer = null;
    this.observer = null;
    this.bubbles = new Bubbles(client, key, {
      jumpTo: (id) => this.jumpTo(id),
      react: (id, emoji) => this.react(id, emoji),
    });
    this.build(onBack);
    this.input.value = drafts.get(key) ?? '';
    this.autosize();
    if (key[0] === 'c' && !client.chat(key)) client.loadChat(key).catch(() => {});
  }

  destroy() {
    drafts.set(this.key, this.editing ? '' : this.input.value);
    if (this.lastTypingSent) this.client.setTyping(this.key, 'cancel');
    this.observer?.disconnect();
    clearTimeout(this.viewTimer);
  }

  focusComposer() {
    if (matchMedia('(pointer: fine)').matches && !this.composer.hidden) {
      this.input.focus({ preventScroll: true });
    }
  }

  get chat() {
    return this.client.chat(this.key);
  }

  build(onBack) {
    this.title = h('h2', { class: 'chat-title', dir: 'auto' });
    this.subtitle = h('p', { class: 'chat-subtitle' });
    this.headAvatar = h('span', { class: 'head-avatar' });
    // A click on the title opens a group's info, as in Telegram; the ⓘ button is the same
    // for the keyboard and screen readers (a heading cannot sit inside a button).
    const headMain = h(
      'div',
      {
        class: `chat-head-main${this.key[0] === 'c' ? ' clickable' : ''}`,
        onclick: () => {
          if (this.key[0] === 'c') this.toggleInfo();
        },
      },
      this.headAvatar,
      h('div', { class: 'chat-head-text' }, this.title, this.subtitle),
    );
    const head = h(
      'header',
      { class: 'chat-head' },
      iconButton('back', t('back'), onBack, { flip: true, cls: 'back-btn' }),
      headMain,
      this.key[0] === 'c' &&
        iconButton('info', t('openInfo'), () => this.toggleInfo(), { cls: 'info-btn' }),
    );
    this.pinnedBar = h('div', { class: 'pinned-bar', hidden: true });
    this.inner = h('div', { class: 'messages-inner' });
    this.loader = h('div', { class: 'loader', text: t('loadingOlder'), hidden: true });
    this.emptyNote = h('p', { class: 'no-messages', text: t('noMessages'), hidden: true });
    this.log = h(
      'div',
      {
        class: 'messages',
        role: 'log',
        'aria-label': t('messages'),
        tabindex: '0',
        onscroll: () => this.onScroll(),
        onkeydown: (e) => this.onLogKey(e),
        oncontextmenu: (e) => this.onContextMenu(e),
        ondblclick: (e) => {
          const el = e.target.closest('.msg[data-id]');
          if (el && !e.target.closest('button, a') && this.client.canPost(this.key)) {
            this.startReply(Number(el.dataset.id));
          }
        },
      },
      this.emptyNote,
      this.inner,
    );
    this.toBottom = iconButton('down', t('toLatest'), () => this.scrollToBottom(), {
      cls: 'to-bottom',
    });
    this.toBottom.hidden = true;
    this.bar = h('div', { class: 'composer-bar', hidden: true });
    this.input = h('textarea', {
      rows: 1,
      dir: 'auto',
      class: 'composer-input',
      'aria-label': t('messagePlaceholder'),
      placeholder: t('messagePlaceholder'),
      enterkeyhint: 'send',
      oninput: () => this.onInput(),
      onkeydown: (e) => this.onComposerKey(e),
      onpaste: (e) => {
        const files = e.clipboardData?.files;
        if (files?.length) {
          e.preventDefault();
          this.sendFiles(files);
        }
      },
    });
    this.fileInput = h('input', {
      type: 'file',
      multiple: true,
      hidden: true,
      onchange: () => {
        if (this.fileInput.files.length) this.sendFiles(this.fileInput.files);
        this.fileInput.value = '';
      },
    });
    this.sendBtn = iconButton('send', t('send'), () => this.submit(), {
      flip: true,
      cls: 'send-btn',
    });
    this.composer = h(
      'div',
      { class: 'composer-main' },
      this.bar,
      h(
        'div',
        { class: 'composer-row' },
        h(
          'div',
          { class: 'composer-box' },
          iconButton('attach', t('attach'), () => this.fileInput.click(), { cls: 'attach-btn' }),
          this.input,
        ),
        this.sendBtn,
        this.fileInput,
      ),
    );
    this.note = h('p', { class: 'composer-note', role: 'note', hidden: true });
    this.joinBtn = h('button', {
      type: 'button',
      class: 'join-btn',
      hidden: true,
      onclick: () => this.join(),
    });
    this.dropZone = h(
      'div',
      { class: 'drop-zone', hidden: true, 'aria-hidden': 'true' },
      h('span', {}, icon('attach'), t('dropHere')),
    );
    this.chatEl = h(
      'section',
      { class: 'chat' },
      head,
      this.pinnedBar,
      h('div', { class: 'messages-wrap' }, this.log, this.loader, this.toBottom),
      h('footer', { class: 'composer' }, this.composer, this.note, this.joinBtn),
      this.dropZone,
    );
    this.wireDrop();
    this.infoHost = h('div', { class: 'info-host' });
    this.el = h('div', { class: 'conv' }, this.chatEl, this.infoHost);
  }

  wireDrop() {
    const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    let depth = 0;
    this.chatEl.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || !this.client.canPost(this.key)) return;
      e.preventDefault();
      depth += 1;
      this.dropZone.hidden = false;
    });
    this.chatEl.addEventListener('dragover', (e) => {
      if (!hasFiles(e) || !this.client.canPost(this.key)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    this.chatEl.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) this.dropZone.hidden = true;
    });
    this.chatEl.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.dropZone.hidden = true;
      if (this.client.canPost(this.key)) this.sendFiles(e.dataTransfer.files);
    });
  }

  // -- rendering ------------------------------------------------------------------------
  render() {
    const c = this.client;
    const title = chatTitle(c, this.key);
    this.title.textContent = title;
    this.chatEl.setAttribute('aria-label', title);
    this.headAvatar.replaceChildren(chatAvatarOf(c, this.key, 'sm'));
    this.renderSubtitle();
    this.renderPinned();
    this.renderFooter();
    this.info?.render();

    const log = this.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
    const prevTop = log.scrollTop;
    // The first message shown stays where it is when older ones are added above it (a
    // date separator cannot anchor: the same one may move up with the older messages).
    const anchor = this.inner.querySelector('[data-id], [data-rid], [data-upload]');
    const anchorTop = anchor?.offsetTop ?? 0;
    const state = c.messagesOf(this.key);
    const b = this.bubbles;
    reconcile(this.inner, b.items(state), {
      key: (it) => it.key,
      sig: (it) => it.sig,
      create: (it) => b.create(it),
      update: (el, it) => b.fill(el, it),
    });
    this.loader.hidden = !(state.loading && state.loaded);
    const count = state.messages.length + state.pending.length + state.uploads.length;
    this.emptyNote.textContent = state.denied ? errorText({ type: state.denied }) : t('noMessages');
    this.emptyNote.hidden = !(state.denied || (state.loaded && count === 0));
    if (this.firstRender || this.forceBottom || atBottom) {
      log.scrollTop = log.scrollHeight;
      this.forceBottom = false;
    } else if (anchor?.isConnected && anchor.offsetTop !== anchorTop) {
      log.scrollTop = prevTop + (anchor.offsetTop - anchorTop);
    }
    if (state.loaded) this.firstRender = false;
    this.onScroll();
    this.watchViews();
    if (state.loaded && this.pendingJump) {
      const id = this.pendingJump;
      this.pendingJump = null;
      this.jumpTo(id);
    }
  }

  renderSubtitle() {
    const c = this.client;
    const chat = this.chat;
    if (c.isTyping(this.key)) {
      this.subtitle.className = 'chat-subtitle typing';
      this.subtitle.textContent = typingText(c, this.key);
      this.subtitle.dir = 'auto';
      return;
    }
    this.subtitle.className = 'chat-subtitle';
    if (this.key[0] === 'c') {
      this.subtitle.textContent = chatCount(chat);
      this.subtitle.dir = 'auto';
      return;
    }
    const user = c.chatUser(this.key);
    const isSelf = c.me && this.key === `u${c.me.id}`;
    const status = isSelf || !user ? null : c.statuses.get(user.id);
    const seen = lastSeenText(status);
    if (seen) {
      this.subtitle.className = `chat-subtitle${status.type === 'online' ? ' online' : ''}`;
      this.subtitle.textContent = seen;
      this.subtitle.dir = 'auto';
      return;
    }
    this.subtitle.textContent = isSelf
      ? ''
      : user?.username
        ? `@${user.username}`
        : digits(user?.phone ?? '');
    this.subtitle.dir = user?.username || user?.phone ? 'ltr' : 'auto';
  }

  renderPinned() {
    const chat = this.chat;
    const id = chat?.pinned_msg_id;
    if (!id) {
      this.pinnedBar.hidden = true;
      this.pinnedBar.replaceChildren();
      return;
    }
    const m = this.client.replied(this.key, id);
    const text =
      m === 'deleted' ? t('deletedMessage') : m ? previewText(this.client, this.key, m) : '…';
    this.pinnedBar.hidden = false;
    this.pinnedBar.replaceChildren(
      h(
        'button',
        {
          type: 'button',
          class: 'pinned-main',
          'aria-label': `${t('pinned')}: ${text}`,
          onclick: () => this.jumpTo(id),
        },
        icon('pin'),
        h(
          'span',
          { class: 'bar-text' },
          h('span', { class: 'bar-label', text: t('pinned') }),
          h('span', { class: 'bar-quote', dir: 'auto', text }),
        ),
      ),
      rightsIn(chat).pin_messages
        ? iconButton('close', t('unpin'), () => this.pin(id, true), { cls: 'unpin-btn' })
        : '',
    );
  }

  renderFooter() {
    const c = this.client;
    const chat = this.chat;
    let mode = 'compose';
    if (this.key[0] === 'c') {
      if (!chat) mode = 'none';
      else if (!isMember(chat)) mode = chat.username && chat.role !== 'banned' ? 'join' : 'gone';
      else if (!c.canPost(this.key)) mode = 'readonly';
    }
    if (mode === this.footerMode) return;
    this.footerMode = mode;
    this.composer.hidden = mode !== 'compose';
    this.note.hidden = mode !== 'readonly' && mode !== 'gone';
    this.note.textContent =
      mode === 'gone'
        ? errorText({ type: 'CHANNEL_PRIVATE' })
        : chat?.type === 'channel'
          ? t('onlyAdminsPost')
          : t('cannotWrite');
    this.joinBtn.hidden = mode !== 'join';
    this.joinBtn.textContent = chat?.type === 'channel' ? t('joinChannel') : t('joinGroup');
  }

  // -- channel views ----------------------------------------------------------------------
  /** Channel posts count as viewed once they have been on screen. */
  watchViews() {
    if (this.chat?.type !== 'channel') return;
    this.observer ??= new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          this.observer.unobserve(e.target);
          const id = Number(e.target.dataset.id);
          if (id) this.toView.add(id);
        }
        if (this.toView.size && !this.viewTimer) {
          this.viewTimer = setTimeout(() => {
            this.viewTimer = null;
            const ids = [...this.toView];
            this.toView.clear();
            this.client.viewPosts(this.key, ids);
          }, VIEWS_DELAY_MS);
        }
      },
      { root: this.log, threshold: 0.5 },
    );
    for (const el of this.inner.querySelectorAll('.msg[data-id]')) {
      if (!this.client.viewed.has(`${this.key}:${el.dataset.id}`)) this.observer.observe(el);
    }
  }

  // -- scrolling and keyboard -----------------------------------------------------------
  onScroll() {
    const log = this.log;
    if (log.scrollTop < 300 && !this.firstRender) {
      const h = this.client.history(this.key);
      if (h.loaded && !h.complete && !h.loading) this.client.loadHistory(this.key, true);
    }
    this.toBottom.hidden = log.scrollHeight - log.scrollTop - log.clientHeight < 300;
  }

  scrollToBottom() {
    this.log.scrollTo({ top: this.log.scrollHeight, behavior: 'smooth' });
  }

  /** Show a message, loading older pages until it is there (search results, quotes, pins). */
  async jumpTo(id) {
    const find = () => this.inner.querySelector(`[data-id="${id}"]`);
    for (let i = 0; i < JUMP_PAGES && !find(); i++) {
      const h = this.client.history(this.key);
      if (!h.loaded || h.complete) break;
      await this.client.loadHistory(this.key, true);
      this.render();
    }
    const el = find();
    if (!el) return;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
    el.focus({ preventScroll: true });
  }

  onLogKey(e) {
    const msgs = [...this.inner.querySelectorAll('.msg')];
    if (!msgs.length) return;
    const current = document.activeElement.closest?.('.msg');
    const i = msgs.indexOf(current);
    let next = null;
    if (e.key === 'ArrowUp') next = i < 0 ? msgs.at(-1) : msgs[Math.max(0, i - 1)];
    else if (e.key === 'ArrowDown') next = i < 0 ? msgs.at(-1) : msgs[i + 1];
    else if (e.key === 'End') next = msgs.at(-1);
    else if (e.key === 'Home') next = msgs[0];
    else if (
      current &&
      e.target === current &&
      (e.key === 'Enter' || e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10'))
    ) {
      const r = current.querySelector('.bubble').getBoundingClientRect();
      const rtl = document.documentElement.dir === 'rtl';
      this.showMenu(current, rtl ? r.right - 16 : r.left + 16, r.bottom - 8);
    } else if (e.key === 'Escape') {
      if (!this.composer.hidden) this.input.focus();
    } else return;
    e.preventDefault();
    if (e.key === 'ArrowDown' && i === msgs.length - 1 && !this.composer.hidden) this.input.focus();
    else next?.focus();
  }

  onContextMenu(e) {
    const el = e.target.closest('.msg');
    if (!el) return;
    e.preventDefault();
    this.showMenu(el, e.clientX, e.clientY);
  }

  showMenu(el, x, y) {
    const c = this.client;
    const id = Number(el.dataset.id) || null;
    const rid = Number(el.dataset.rid) || null;
    const items = [];
    let reactions = null;
    if (id) {
      const m = c.msg(this.key, id);
      if (!m) return;
      const chat = this.chat;
      const rights = rightsIn(chat);
      const canPost = c.canPost(this.key);
      if (chat && isMember(chat)) {
        const current = c.myReactions.get(`${this.key}:${id}`) ?? '';
        reactions = { emojis: REACTIONS, current, onPick: (emoji) => this.react(id, emoji) };
      }
      if (canPost) {
        items.push({
          label: t('reply'),
          icon: 'reply',
          flip: true,
          action: () => this.startReply(id),
        });
      }
      items.push({
        label: t('forward'),
        icon: 'forward',
        flip: true,
        action: () => this.forward(id),
      });
      if (m.text) {
        items.push({
          label: t('copy'),
          icon: 'copy',
          action: () => navigator.clipboard?.writeText(m.text).catch(() => {}),
        });
      }
      if (rights.pin_messages) {
        const pinned = chat.pinned_msg_id === id;
        items.push({
          label: pinned ? t('unpin') : t('pin'),
          icon: 'pin',
          action: () => this.pin(id, pinned),
        });
      }
      if (m.out && canPost)
        items.push({ label: t('edit'), icon: 'edit', action: () => this.startEdit(id) });
      if (!chat || m.out || rights.delete_messages) {
        items.push({
          label: t('delete'),
          icon: 'trash',
          danger: true,
          action: () => this.confirmDelete(m),
        });
      }
    } else if (rid) {
      items.push({
        label: t('delete'),
        icon: 'trash',
        danger: true,
        action: () => this.client.discard(rid),
      });
    }
    if (!items.length && !reactions) return;
    openMenu({ x, y, label: t('messageActions'), items, restore: el, reactions });
  }

  async react(id, emoji) {
    try {
      await this.client.react(this.key, id, emoji);
    } catch (e) {
      toast(errorText(e));
    }
  }

  async pin(id, unpin) {
    try {
      await this.client.pin(this.key, id, unpin);
    } catch (e) {
      toast(errorText(e));
    }
  }

  async forward(id) {
    const c = this.client;
    const options = c
      .chatList()
      .filter((r) => c.canPost(r.key))
      .map((r) => ({
        key: r.key,
        label: chatTitle(c, r.key),
        avatar: chatAvatarOf(c, r.key, 'sm'),
      }));
    const target = await pickDialog({
      title: t('forwardTo'),
      options,
      filterLabel: t('searchChats'),
    });
    if (!target) return;
    try {
      await c.forward(this.key, [id], target);
      this.onOpenChat(target);
    } catch (e) {
      toast(errorText(e));
    }
  }

  async confirmDelete(m) {
    const isSelf = this.client.me && this.key === `u${this.client.me.id}`;
    const name = chatTitle(this.client, this.key);
    const privateChat = this.key[0] === 'u' && !isSelf;
    const answer = await confirmDialog({
      title: t('deleteTitle'),
      text: t('deleteConfirm'),
      checkbox: privateChat ? { label: t('deleteForBoth', { name }), checked: m.out } : null,
      okLabel: t('delete'),
      danger: true,
    });
    if (!answer.ok) return;
    try {
      await this.client.deleteMessages(this.key, [m.id], answer.checked || !privateChat);
    } catch (e) {
      toast(errorText(e));
    }
  }

  async join() {
    this.joinBtn.disabled = true;
    try {
      await this.client.joinChat(this.key);
      this.footerMode = null;
      this.render();
      this.focusComposer();
    } catch (e) {
      toast(errorText(e));
    } finally {
      this.joinBtn.disabled = false;
    }
  }

  // -- the info panel ---------------------------------------------------------------------
  toggleInfo() {
    if (this.info) {
      this.closeInfo();
      return;
    }
    this.info = new ChatInfo(this.client, this.key, {
      onClose: () => this.closeInfo(),
      onOpenChat: (key) => this.onOpenChat(key),
    });
    this.infoHost.replaceChildren(this.info.el);
    this.el.classList.add('with-info');
    this.info.focus();
  }

  closeInfo() {
    if (!this.info) return false;
    this.info.destroy();
    this.info = null;
    this.infoHost.replaceChildren();
    this.el.classList.remove('with-info');
    this.chatEl.querySelector('.info-btn')?.focus();
    return true;
  }

  // -- composer -------------------------------------------------------------------------
  /** Files attached, dropped or pasted: the text typed (if any) goes as the first file's
   * caption and the composer is cleared, as in Telegram. Not while editing (that text is
   * the edited message's), and a text too long for a caption stays to be sent on its own. */
  sendFiles(files) {
    if (!files.length) return;
    let caption = this.editing ? '' : this.input.value.trim();
    if ([...caption].length > CAPTION_MAX) {
      caption = '';
      toast(t('captionTooLong'));
    } else if (caption) {
      this.input.value = '';
      drafts.delete(this.key);
      if (this.lastTypingSent) this.client.setTyping(this.key, 'cancel');
      this.lastTypingSent = 0;
      this.autosize();
    }
    const replyTo = this.replyTo;
    if (this.replyTo) this.cancelBar();
    this.forceBottom = true;
    this.client.sendFiles(this.key, files, caption, replyTo);
  }

  setBar(kind, m) {
    if (!kind) {
      this.bar.hidden = true;
      this.bar.replaceChildren();
      return;
    }
    const who =
      this.key[0] === 'c'
        ? senderName(this.client, m)
        : m.out
          ? t('you')
          : chatTitle(this.client, this.key);
    const label = kind === 'reply' ? t('replyTo', { name: who }) : t('editing');
    this.bar.hidden = false;
    this.bar.className = `composer-bar ${kind}`;
    this.bar.replaceChildren(
      h(
        'div',
        { class: 'bar-text' },
        h('span', { class: 'bar-label', text: label }),
        h('span', { class: 'bar-quote', dir: 'auto', text: previewText(this.client, this.key, m) }),
      ),
      iconButton('close', kind === 'reply' ? t('cancelReply') : t('cancelEdit'), () =>
        this.cancelBar(),
      ),
    );
  }

  startReply(id) {
    const m = this.client.msg(this.key, id);
    if (!m) return;
    if (this.editing) this.cancelBar();
    this.replyTo = id;
    this.setBar('reply', m);
    this.input.focus();
  }

  startEdit(id) {
    const m = this.client.msg(this.key, id);
    if (!m) return;
    if (!this.editing) drafts.set(this.key, this.input.value);
    this.replyTo = null;
    this.editing = id;
    this.setBar('edit', m);
    this.input.value = m.text;
    this.autosize();
    this.input.focus();
    this.input.setSelectionRange(m.text.length, m.text.length);
  }

  cancelBar() {
    if (this.editing) {
      this.input.value = drafts.get(this.key) ?? '';
      this.autosize();
    }
    this.replyTo = null;
    this.editing = null;
    this.setBar(null);
    this.input.focus();
  }

  autosize() {
    // An empty box follows the interface (placeholder on the right in Persian); typed text
    // follows its own first letter.
    this.input.dir = this.input.value ? 'auto' : document.documentElement.dir;
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }

  onInput() {
    this.autosize();
    if (this.editing) return;
    const now = Date.now();
    if (this.input.value.trim()) {
      if (now - this.lastTypingSent > TYPING_EVERY_MS) {
        this.lastTypingSent = now;
        this.client.setTyping(this.key, 'typing');
      }
    } else if (this.lastTypingSent) {
      this.lastTypingSent = 0;
      this.client.setTyping(this.key, 'cancel');
    }
  }

  onComposerKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === 'Escape' && (this.replyTo || this.editing)) {
      e.preventDefault();
      this.cancelBar();
    } else if (e.key === 'ArrowUp' && !this.input.value && !this.editing) {
      const own = this.client
        .messagesOf(this.key)
        .messages.filter((m) => m.out && !m.action)
        .at(-1);
      if (own) {
        e.preventDefault();
        this.startEdit(own.id);
      }
    }
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text) return;
    if (this.editing) {
      const id = this.editing;
      const original = this.client.msg(this.key, id)?.text;
      this.cancelBar();
      if (text === original) return;
      try {
        await this.client.edit(this.key, id, text);
      } catch (e) {
        toast(errorText(e));
      }
      return;
    }
    const replyTo = this.replyTo;
    this.input.value = '';
    drafts.delete(this.key);
    this.lastTypingSent = 0;
    this.autosize();
    this.replyTo = null;
    this.setBar(null);
    this.forceBottom = true;
    this.client.send(this.key, text, replyTo);
  }
}
