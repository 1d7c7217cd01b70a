// Applies the user's update log in pts order, with no gap and no repeat (docs/api.md,
// "Updates and sync"; the Python client's Sequencer follows the same rules).
//
// For an update with a pts: drop it if pts <= local, apply it if pts == local + 1, and
// otherwise something was missed: fetch updates.getDifference from local and apply what it
// returns. While a difference is being fetched (or before the starting pts is known) pushes
// are buffered, because applying them before the missing ones would break the order.
// Updates without a pts (typing) are hints and are applied at once.
//
// ChannelSequencer (below) applies the same rules to one group's or channel's own log.

export class Sequencer {
  /**
   * @param {(method: string, params: object) => Promise<any>} call
   * @param {(update: object) => void} apply
   */
  constructor(call, apply) {
    this.call = call;
    this.apply = apply;
    this.pts = null; // unknown until start()
    this.buffer = [];
    this.running = null; // the catch-up in progress
    this.again = false;
    this.onSyncing = () => {};
  }

  /** The log's head as the initial load saw it (getDialogs' state). */
  start(pts) {
    this.pts = pts;
    this.drain();
  }

  reset() {
    this.pts = null;
    this.buffer = [];
    this.again = false;
  }

  get syncing() {
    return this.running !== null;
  }

  /** Updates pushed by the server, or results that are updates (sendMessage's). */
  feed(updates) {
    for (const u of updates) {
      if (typeof u.pts !== 'number') {
        this.apply(u);
      } else if (this.pts === null || this.running) {
        this.buffer.push(u);
      } else if (u.pts <= this.pts) {
        // already applied
      } else if (u.pts === this.pts + 1) {
        this.apply(u);
        this.pts = u.pts;
      } else {
        this.buffer.push(u);
        this.catchUp();
      }
    }
  }

  /** A call told us the log reached `pts` (readHistory, deleteMessages): make sure we follow. */
  expect(pts) {
    if (this.pts === null || pts <= this.pts) return;
    setTimeout(() => {
      if (this.pts !== null && pts > this.pts) this.catchUp();
    }, 1000);
  }

  /** Fetch what was missed. Called after every (re)connect and on any gap; resolves with
   * whether it completed. */
  catchUp() {
    if (this.pts === null) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.onSyncing(true);
    // A failure (the socket dropped) is not reported: the next connect catches up again.
    this.running = this.loop()
      .then(
        () => true,
        () => false,
      )
      .finally(() => {
        this.running = null;
        this.onSyncing(false);
      });
    return this.running;
  }

  async loop() {
    do {
      this.again = false;
      let more = true;
      while (more) {
        const diff = await this.call('updates.getDifference', { pts: this.pts });
        for (const u of diff.updates) {
          if (typeof u.pts !== 'number' || u.pts <= this.pts) continue;
          this.apply(u);
          this.pts = u.pts;
        }
        this.pts = Math.max(this.pts, diff.state.pts);
        more = diff.slice;
      }
    } while (this.drainBuffered() || this.again);
  }

  /** Apply buffered pushes that now follow on; true when a gap remains (fetch again). */
  drainBuffered() {
    this.buffer.sort((a, b) => a.pts - b.pts);
    const rest = [];
    for (const u of this.buffer) {
      if (u.pts <= this.pts) continue;
      if (u.pts === this.pts + 1) {
        this.apply(u);
        this.pts = u.pts;
      } else {
        rest.push(u);
      }
    }
    this.buffer = rest;
    return rest.length > 0;
  }

  drain() {
    if (this.drainBuffered()) this.catchUp();
  }
}

/**
 * The same rules for one group's or channel's own log (docs/chats.md, "Sync"): its updates
 * carry a top-level chat_id and a pts of that chat, and missing ones come from
 * updates.getChannelDifference, repeated while `final` is false. A member too far behind
 * (`too_long`) reloads the recent history instead (onTooLong) and goes on from the chat's
 * pts. A refusal (left, banned, the chat is gone) stops it (onGone).
 */
export class ChannelSequencer extends Sequencer {
  constructor(chatId, call, apply, { onTooLong = async () => {}, onGone = () => {} } = {}) {
    super(call, apply);
    this.chatId = chatId;
    this.onTooLong = onTooLong;
    this.onGone = onGone;
    this.gone = false;
  }

  feed(updates) {
    if (!this.gone) super.feed(updates);
  }

  async loop() {
    do {
      this.again = false;
      for (;;) {
        let diff;
        try {
          diff = await this.call('updates.getChannelDifference', {
            channel: { chat_id: this.chatId },
            pts: this.pts,
            limit: 100,
          });
        } catch (e) {
          if (!e.isRejection) throw e;
          this.gone = true;
          this.buffer = [];
          this.onGone(e);
          return;
        }
        if (diff.too_long) {
          this.buffer = this.buffer.filter((u) => u.pts > diff.pts);
          await this.onTooLong(diff.pts);
          this.pts = Math.max(this.pts, diff.pts);
          break;
        }
        for (const u of diff.updates) {
          if (typeof u.pts !== 'number' || u.pts <= this.pts) continue;
          this.apply(u);
          this.pts = u.pts;
        }
        this.pts = Math.max(this.pts, diff.pts);
        if (diff.final) break;
      }
    } while (this.drainBuffered() || this.again);
  }
}
