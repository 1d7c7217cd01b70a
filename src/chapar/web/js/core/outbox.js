// Messages the user sent that the server has not confirmed yet, kept in localStorage so they
// survive a dropped network, a server restart or a closed tab. Each keeps the random_id it was
// given when typed: sending it again, however often, makes one message (docs/api.md,
// "Idempotency").

/** A random positive id that JSON and JS numbers carry exactly (53 bits). */
export function newRandomId() {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return (hi & 0x1fffff) * 2 ** 32 + lo || 1;
}

export class Outbox {
  constructor(storageKey) {
    this.key = storageKey;
    this.items = this.load();
  }

  load() {
    try {
      const items = JSON.parse(localStorage.getItem(this.key) ?? '[]');
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save() {
    // `sending` only describes this tab's current attempt: it is not stored.
    const json = JSON.stringify(this.items, (k, v) => (k === 'sending' ? undefined : v));
    if (this.items.length) localStorage.setItem(this.key, json);
    else localStorage.removeItem(this.key);
  }

  /** Another tab changed the outbox: take its copy. */
  reload() {
    this.items = this.load();
  }

  add({ peer, text, reply_to = null }) {
    const item = {
      random_id: newRandomId(),
      peer,
      text,
      reply_to,
      date: Math.floor(Date.now() / 1000),
      failed: null,
    };
    this.items.push(item);
    this.save();
    return item;
  }

  get(randomId) {
    return this.items.find((i) => i.random_id === randomId);
  }

  update(randomId, changes) {
    const item = this.get(randomId);
    if (!item) return;
    Object.assign(item, changes);
    this.save();
  }

  remove(randomId) {
    this.items = this.items.filter((i) => i.random_id !== randomId);
    this.save();
  }

  /** Items still to send, oldest first (failed ones wait for the user to retry). */
  due() {
    return this.items.filter((i) => !i.failed);
  }

  forPeer(peerKey) {
    return this.items.filter((i) => peerKeyOf(i.peer) === peerKey);
  }

  clear() {
    this.items = [];
    this.save();
  }
}

export function peerKeyOf(peer) {
  return peer.user_id != null ? `u${peer.user_id}` : `c${peer.chat_id}`;
}
