"""Presence shared by every node, in Redis.

Per user, a hash ``<prefix>presence:<id>`` of entries ``"<session>:<conn>" -> lease
expiry`` (milliseconds, negative while the session is away), and ``<prefix>seen:<id>``,
the last time (seconds) the user was known online. Each op is one Lua script run, so
deciding "was the user online before, and after?" is atomic across nodes; a batch is one
pipeline. The hash also gets a Redis TTL of two leases, so the entries of a dead node
vanish even if no one looks at that user again; ``seen`` has none (one small key per user
who ever connected).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chapar.adapters.redis.connection import make_pool
from chapar.errors import Unavailable
from chapar.ports.clock import Clock
from chapar.ports.presence import (
    LEASE_SECONDS,
    Flip,
    Op,
    Status,
    entry_field,
    session_prefix,
)

# KEYS: entries hash, seen. ARGV: op, field (or session prefix), now_ms, lease_ms, now_s.
# Returns 1 (went online), -1 (went offline) or 0. Mirrors adapters/memory/presence.py.
_SCRIPT = """
local op, field = ARGV[1], ARGV[2]
local now, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local before = false
for i = 1, #all, 2 do
  local v = tonumber(all[i + 1])
  if math.abs(v) <= now then
    redis.call('HDEL', KEYS[1], all[i])
    all[i + 1] = '0'
  elseif v > 0 then
    before = true
  end
end
local exp = string.format('%.0f', now + lease)
if op == 'connect' then
  redis.call('HSET', KEYS[1], field, exp)
elseif op == 'refresh' then
  local v = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  redis.call('HSET', KEYS[1], field, (v < 0) and ('-' .. exp) or exp)
elseif op == 'disconnect' then
  redis.call('HDEL', KEYS[1], field)
else
  for i = 1, #all, 2 do
    local v = tonumber(all[i + 1])
    if v ~= 0 and string.sub(all[i], 1, #field) == field then
      local a = string.format('%.0f', math.abs(v))
      redis.call('HSET', KEYS[1], all[i], (op == 'away') and ('-' .. a) or a)
    end
  end
end
local after = false
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if tonumber(v) > now then after = true end
end
if before or after then redis.call('SET', KEYS[2], ARGV[5]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], 2 * lease) end
if before == after then return 0 elseif after then return 1 else return -1 end
"""

_FLIPS: dict[int, Flip] = {0: None, 1: "online", -1: "offline"}


class RedisPresence:
    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        prefix: str = "chapar:",
        lease_seconds: int = LEASE_SECONDS,
        timeout: float = 1.0,
    ) -> None:
        self._pool = make_pool(url, timeout=timeout, max_connections=8)
        self._redis: Redis = Redis(connection_pool=self._pool)
        self._script = self._redis.register_script(_SCRIPT)
        self._clock = clock
        self._prefix = prefix
        self._lease_ms = lease_seconds * 1000

    def _keys(self, user_id: int) -> list[str]:
        return [f"{self._prefix}presence:{user_id}", f"{self._prefix}seen:{user_id}"]

    async def apply(self, ops: Sequence[Op]) -> list[Flip]:
        if not ops:
            return []
        now_ms = int(self._clock.now() * 1000)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for op in ops:
                    if op.kind in ("away", "back"):
                        field = session_prefix(op.session_id)
                    else:
                        field = entry_field(op.session_id, op.conn)
                    args: list[str | int] = [op.kind, field, now_ms, self._lease_ms, now_ms // 1000]
                    await self._script(keys=self._keys(op.user_id), args=args, client=pipe)
                results = await pipe.execute()
        except (RedisError, OSError) as e:
            raise Unavailable("PRESENCE_UNAVAILABLE", f"presence unavailable: {e!r}") from e
        return [_FLIPS[int(r)] for r in results]

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, Status]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for uid in ids:
                    entries, seen = self._keys(uid)
                    pipe.hvals(entries)
                    pipe.get(seen)
                results = await pipe.execute()
        except (RedisError, OSError) as e:
            raise Unavailable("PRESENCE_UNAVAILABLE", f"presence unavailable: {e!r}") from e
        now_ms = int(self._clock.now() * 1000)
        out: dict[int, Status] = {}
        for i, uid in enumerate(ids):
            live = [v for v in map(int, results[2 * i]) if v > now_ms]
            seen = results[2 * i + 1]
            if live:
                out[uid] = Status(online=True, expires=max(live) // 1000)
            else:
                out[uid] = Status(online=False, was_online=int(seen) if seen else None)
        return out

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.aclose()
