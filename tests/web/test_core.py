"""The client core's rules, run in the browser on the modules the page itself loads: the
pts sequencer (gaps, repeats, order), the outbox and which calls may be repeated."""

from __future__ import annotations

from tests.server import ServerProcess
from tests.web.conftest import Browsing

SEQUENCER = """async () => {
  const { Sequencer } = await import('/web/js/core/sync.js');
  const log = [1, 2, 3, 4, 5, 6].map((pts) => ({ type: 'updateNewMessage', pts, message: { id: pts } }));
  const applied = [];
  const asked = [];
  // The server's log, two updates per difference, so the client must follow `slice`.
  const call = async (method, params) => {
    asked.push([method, params.pts]);
    const updates = log.filter((u) => u.pts > params.pts).slice(0, 2);
    const head = updates.length ? updates.at(-1).pts : params.pts;
    return { updates, state: { pts: head, date: 0 }, slice: head < 6 };
  };
  const seq = new Sequencer(call, (u) => applied.push(u.pts ?? u.type));
  seq.feed([log[0]]);              // before the starting pts is known: kept
  seq.start(0);                    // ... and applied now
  seq.feed([log[1], log[1]]);      // a repeat is applied once
  seq.feed([log[4]]);              // 5 after 2: a gap, so fetch from 2
  seq.feed([log[3]]);              // while fetching: buffered, then dropped as already had
  await seq.running;
  seq.feed([log[2], { type: 'updateUserTyping', user_id: 1, action: 'typing' }]);
  return { applied, asked, pts: seq.pts, syncing: seq.syncing };
}"""


def test_sequencer_fills_gaps_in_order_once(server: ServerProcess, browsing: Browsing) -> None:
    page = browsing.page(server.url)
    got = page.evaluate(SEQUENCER)
    assert got["applied"] == [1, 2, 3, 4, 5, 6, "updateUserTyping"]
    assert got["asked"] == [["updates.getDifference", 2], ["updates.getDifference", 4]]
    assert got["pts"] == 6
    assert got["syncing"] is False


OUTBOX = """async () => {
  const { Outbox, newRandomId } = await import('/web/js/core/outbox.js');
  const { isRepeatable } = await import('/web/js/core/connection.js');
  const ids = new Set(Array.from({ length: 1000 }, newRandomId));
  const box = new Outbox('test.outbox');
  const item = box.add({ peer: { user_id: 7 }, text: 'salam' });
  item.sending = true;
  box.update(item.random_id, { failed: null });
  const stored = JSON.parse(localStorage.getItem('test.outbox'));
  const again = new Outbox('test.outbox');
  const reloaded = again.items.map((i) => [i.random_id === item.random_id, i.text, 'sending' in i]);
  again.remove(item.random_id);
  return {
    distinct: ids.size,
    safe: [...ids].every((i) => Number.isSafeInteger(i) && i > 0),
    stored: stored.length,
    reloaded,
    empty: localStorage.getItem('test.outbox'),
    repeatable: [
      isRepeatable('messages.sendMessage', { random_id: 1 }),
      isRepeatable('messages.getHistory', {}),
      isRepeatable('contacts.resolveUsername', {}),
      isRepeatable('messages.editMessage', { id: 1, text: 'x' }),
      isRepeatable('auth.signIn', {}),
    ],
  };
}"""


def test_outbox_keeps_random_ids_and_repeats_only_safe_calls(
    server: ServerProcess, browsing: Browsing
) -> None:
    page = browsing.page(server.url)
    got = page.evaluate(OUTBOX)
    assert got["distinct"] == 1000 and got["safe"] is True
    assert got["stored"] == 1
    assert got["reloaded"] == [[True, "salam", False]]
    assert got["empty"] is None
    assert got["repeatable"] == [True, True, True, False, False]


DATES = """async () => {
  const i18n = await import('/web/js/i18n.js');
  i18n.setLang('fa');
  const nowruz = Date.UTC(2024, 2, 20, 12) / 1000; // 20 March 2024: 1 Farvardin 1403
  const fa = [i18n.day(nowruz), i18n.time(nowruz), i18n.num(1234), i18n.digits('+98 912')];
  i18n.setLang('en');
  const en = [i18n.day(nowruz), i18n.time(nowruz), i18n.num(1234)];
  const fold = i18n.fold('كتاب‌هاي ۱۲ ARABIC');
  return { fa, en, fold, dir: document.documentElement.dir };
}"""


def test_persian_dates_are_jalali_with_persian_digits(
    server: ServerProcess, browsing: Browsing
) -> None:
    page = browsing.page(server.url)
    got = page.evaluate(DATES)
    assert got["fa"] == ["۱ فروردین ۱۴۰۳", "۱۵:۳۰", "۱٬۲۳۴", "+۹۸ ۹۱۲"]  # Tehran time
    assert got["en"] == ["20 March 2024", "15:30", "1,234"]
    # Search folds Arabic letters, ZWNJ and digits the way the server's search does.
    assert got["fold"] == "کتابهای 12 arabic"
    assert got["dir"] == "ltr"


CHANNEL_SEQUENCER = """async () => {
  const { ChannelSequencer } = await import('/web/js/core/sync.js');
  const post = (pts) => ({ type: 'updateNewChannelMessage', chat_id: 9, pts, message: { id: pts } });
  const run = async (answer) => {
    const applied = [];
    const asked = [];
    const events = [];
    const call = async (method, params) => {
      asked.push([method, params.channel.chat_id, params.pts]);
      return answer(params.pts);
    };
    const seq = new ChannelSequencer(9, call, (u) => applied.push(u.pts), {
      onTooLong: async (pts) => events.push(['too_long', pts]),
      onGone: (e) => events.push(['gone', e.type]),
    });
    seq.start(1);
    seq.feed([post(2), post(5)]);  // 5 after 2: a gap, fetched from 2
    await seq.running;
    return { applied, asked, events, pts: seq.pts };
  };
  // The chat's log answers two updates at a time, so `final` must be followed.
  const paged = await run((pts) => {
    const updates = [3, 4, 5].filter((p) => p > pts).slice(0, 2).map(post);
    const last = updates.length ? updates.at(-1).pts : pts;
    return { updates, pts: last, final: last >= 5 };
  });
  const tooLong = await run(() => ({ updates: [], pts: 200000, final: true, too_long: true }));
  const { ApiError } = await import('/web/js/core/connection.js');
  const gone = await run(() => { throw new ApiError(403, 'CHANNEL_PRIVATE', 'banned'); });
  return { paged, tooLong, gone };
}"""


def test_channel_sequencer_follows_each_chats_own_log(
    server: ServerProcess, browsing: Browsing
) -> None:
    page = browsing.page(server.url)
    got = page.evaluate(CHANNEL_SEQUENCER)
    paged = got["paged"]
    assert paged["applied"] == [2, 3, 4, 5]
    assert paged["asked"] == [
        ["updates.getChannelDifference", 9, 2],
        ["updates.getChannelDifference", 9, 4],
    ]
    assert paged["pts"] == 5 and paged["events"] == []
    # Too far behind: the history is reloaded instead, and the log goes on from its head.
    assert got["tooLong"]["events"] == [["too_long", 200000]]
    assert got["tooLong"]["applied"] == [2] and got["tooLong"]["pts"] == 200000
    # Refused (removed, banned): the chat is dropped, nothing more is asked.
    assert got["gone"]["events"] == [["gone", "CHANNEL_PRIVATE"]]
    assert len(got["gone"]["asked"]) == 1
