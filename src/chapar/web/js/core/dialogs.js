// Pinned and muted chats (mixed into Client, like chats.js). What the user sets on a chat
// is theirs on every device: the server writes each change to the user's own log
// (updateDialogPinned, updateNotifySettings), so other tabs and devices follow it through
// the Sequencer. Pinned chats come first in the list, the most recently pinned on top, as
// messages.getDialogs orders them; a chat muted until a time becomes unmuted by itself
// then (a timer redraws the list).

import { peerKeyOf } from './outbox.js';

export const MUTE_FOREVER = 2 ** 31 - 1;
export const MAX_PINNED = 5;
// setTimeout's longest wait; a mute that ends later is looked at again after this.
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export const dialogMethods = {
  /** Whether a dialog is muted right now. */
  isMuted(d) {
    return (d?.mute_until ?? 0) > Date.now() / 1000;
  },

  isPinned(d) {
    return !!d?.pinned;
  },

  /** After messages.getDialogs: its pinned dialogs come first, the most recent on top. */
  notePinOrder(dialogs) {
    const pinned = dialogs.filter((d) => d.pinned);
    pinned.forEach((d, i) => {
      const own = this.dialogs.get(peerKeyOf(d.peer));
      if (own) own.pin_order = pinned.length - i;
    });
    this.watchMutes();
  },

  /** Pin (on top of the pinned ones) or unpin; throws PINNED_DIALOGS_TOO_MUCH at six. */
  async setPinned(key, pinned) {
    await this.conn.call('messages.toggleDialogPin', { peer: this.peerOf(key), pinned });
    // The update follows through the log; until then show it at once (applying it twice
    // changes nothing).
    this.applyPinned(key, pinned);
  },

  /** Mute until a unix time (MUTE_FOREVER: for good), or unmute (0). */
  async setMuted(key, until) {
    const params = { peer: this.peerOf(key), mute_until: until };
    await this.conn.call('account.updateNotifySettings', params);
    this.applyMuted(key, until > Date.now() / 1000 ? until : 0);
  },

  /** A chat not in the list (left, say: its stale pin goes) is not added by this. */
  applyPinned(key, pinned) {
    const d = this.dialogs.get(key);
    if (!d || !!d.pinned === pinned) return;
    if (pinned) {
      let top = 0;
      for (const other of this.dialogs.values()) {
        if (other.pinned) top = Math.max(top, other.pin_order ?? 0);
      }
      d.pinned = true;
      d.pin_order = top + 1;
    } else {
      delete d.pinned;
      delete d.pin_order;
    }
    this.emit('dialogs');
  },

  applyMuted(key, until) {
    const d = this.dialogs.get(key);
    if (!d || (d.mute_until ?? 0) === until) return;
    if (until) d.mute_until = until;
    else delete d.mute_until;
    this.watchMutes();
    this.emit('dialogs');
  },

  /** Redraw the list when the next mute runs out. */
  watchMutes() {
    clearTimeout(this.muteTimer);
    const now = Date.now() / 1000;
    let next = Infinity;
    for (const d of this.dialogs.values()) {
      const until = d.mute_until ?? 0;
      if (until > now && until < MUTE_FOREVER) next = Math.min(next, until);
    }
    if (next === Infinity) return;
    const wait = Math.min(LONGEST_TIMER_MS, Math.ceil((next - now) * 1000) + 50);
    this.muteTimer = setTimeout(() => {
      this.emit('dialogs');
      this.watchMutes();
    }, wait);
  },

  /** The list's order: pinned first (the most recently pinned on top), then newest first. */
  compareRows(a, b) {
    const pa = a.dialog.pinned ? (a.dialog.pin_order ?? 0) + 1 : 0;
    const pb = b.dialog.pinned ? (b.dialog.pin_order ?? 0) + 1 : 0;
    return pb - pa || b.date - a.date || b.dialog.top_message - a.dialog.top_message;
  },
};
