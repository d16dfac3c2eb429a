-- restore.lua: rebuild a room that lost data (Redis restarted empty or from an older snapshot, a
-- failover that lost writes) from a gateway's cache. Settings and the seed are only filled in
-- where missing (or overwritten, "set", when the room was re-created after the cache's copy);
-- counters are max-merged, so restores from several gateways commute and nothing goes backwards.
--
-- A fresh loss (no meta, or no restore within ARGV[6]) also resets what is kept per visitor,
-- since none of it can be trusted: an old snapshot's offers, skips, returning visitors and
-- leases are stale (some were claimed, released or expired since), so they are dropped, and:
--  * leases: the cap stays honest with placeholders, "lost:<n>" members of the leases set, as
--    many as the cache counted active leases, expiring one session from now (no lost token
--    outlives that: it can no longer be extended). A release of a lease claimed before the
--    restore takes one placeholder away (release.lua); restored_ms is the restore time.
--  * outstanding admissions: positions at or behind the restored head (restored_head) that
--    come back without a lease are re-offered once, through the returning set, up to
--    orphan_budget of them (ARGV[4]: the offers, skips within grace and returning visitors the
--    cache counted, plus a second of admissions), from ARGV[9] after the restore; meanwhile
--    the gateways mark the positions they saw claimed in the orphans bitmap (spend.lua), so
--    those are spent, and the capacity of the admissions that held it (offers, returning)
--    is held for them (ARGV[10]) rather than given to the next in line.
--  * liveness: the positions not yet reached, up to the highest number the gateway knew
--    issued, are marked seen in both live bitmaps (every restore), so nobody who may be waiting
--    is skipped for lack of marks; the numbers of the counter's margin are marked only by the
--    polls of those who hold them, and the others are skipped at once (their holders, if any,
--    come back through the skipped set within grace).
-- A restore within ARGV[6] of the last one is a merge (another gateway noticed the same loss):
-- it only raises the counter, the stats and the placeholders: not the head, which has moved on.
-- KEYS[1] meta  KEYS[2] stats  KEYS[3] leases zset  KEYS[4] lease hash  KEYS[5] offers
-- KEYS[6] skipped  KEYS[7] returning  KEYS[8] seen, current epoch  KEYS[9] seen, previous epoch
-- ARGV[1] room TTL ms; ARGV[2] active leases the cache knew; ARGV[3] session ms;
-- ARGV[4] orphan budget; ARGV[5] the cache's Redis time ms; ARGV[6] merge window ms;
-- ARGV[7] seen bitmap TTL ms; ARGV[8] the highest number known issued (the counter without
-- its margin: positions beyond it are marked only by polls); ARGV[9] orphan settle ms: orphans
-- are let in only from then (orphans_from_ms), once the gateways have marked what they saw
-- claimed;
-- ARGV[10] capacity to hold for the orphans until they come (hold:<n> members of the leases set,
-- expiring AbsentAfter after orphans_from_ms, handed over by claim.lua);
-- ARGV[11..] triples: mode ("nx" | "set" | "max" on meta, "smax" on stats), field, value
-- reply: {existed (1 | 0), head before, head after, fresh (1 | 0), placeholders added}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = ARGV[1]
local existed = redis.call('EXISTS', KEYS[1])
local b = redis.call('HMGET', KEYS[1], 'head', 'restored_ms')
local before = tonumber(b[1]) or 0
local last_restore = tonumber(b[2]) or 0
local fresh = existed == 0 or last_restore == 0 or now - last_restore >= tonumber(ARGV[6])
for i = 11, #ARGV, 3 do
  local mode, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if not fresh and (f == 'head' or f == 'restored_head') then
    -- a merge: the head has moved on since the restore, and what it reached since was offered
    -- afresh; raising it (or the orphans' range) now could skip a waiting visitor, or let one
    -- served since the restore in again
    mode = 'skip'
  end
  if mode == 'nx' then
    redis.call('HSETNX', KEYS[1], f, v)
  elseif mode == 'set' then
    redis.call('HSET', KEYS[1], f, v)
  elseif mode == 'max' then
    local cur = tonumber(redis.call('HGET', KEYS[1], f))
    if cur == nil or cur < tonumber(v) then
      redis.call('HSET', KEYS[1], f, v)
    end
  elseif mode == 'smax' then
    local cur = tonumber(redis.call('HGET', KEYS[2], f))
    if cur == nil or cur < tonumber(v) then
      redis.call('HSET', KEYS[2], f, v)
    end
  end
end
local after = tonumber(redis.call('HGET', KEYS[1], 'head')) or 0
local counter = tonumber(redis.call('HGET', KEYS[1], 'counter')) or 0
if existed == 0 then
  redis.call('HSET', KEYS[1], 'credit', '0', 'last_ms', now, 'ttl_ms', 0)
  redis.call('HSETNX', KEYS[1], 'created_ms', now)
end

-- set bits lo..hi of a bitmap (whole bytes at once)
local function fill(key, lo, hi)
  if hi < lo then
    return
  end
  local p = lo
  while p <= hi and p % 8 ~= 0 do
    redis.call('SETBIT', key, p, 1)
    p = p + 1
  end
  local bytes = math.floor((hi - p + 1) / 8)
  local off = p / 8
  p = p + bytes * 8
  while bytes > 0 do
    local n = math.min(bytes, 1048576)
    redis.call('SETRANGE', key, off, string.rep('\255', n))
    off = off + n
    bytes = bytes - n
  end
  while p <= hi do
    redis.call('SETBIT', key, p, 1)
    p = p + 1
  end
  redis.call('PEXPIRE', key, ARGV[7])
end

local want = tonumber(ARGV[2])
local added = 0
local lost_n = tonumber(redis.call('HGET', KEYS[1], 'lost_n')) or 0
if fresh then
  if existed == 1 then
    redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
  end
  lost_n = 0
  added = want
  local rh = tonumber(redis.call('HGET', KEYS[1], 'restored_head')) or 0
  redis.call('HSET', KEYS[1], 'restored_ms', now, 'restored_from_ms', ARGV[5],
    'orphan_budget', ARGV[4], 'restored_head', math.max(rh, after), 'skip_after_ms', now,
    'orphans_from_ms', now + tonumber(ARGV[9]))
else
  local have = redis.call('ZCARD', KEYS[3])
  if want > have then
    added = want - have
  end
end
local known = math.min(tonumber(ARGV[8]), counter)
fill(KEYS[8], after + 1, known)
fill(KEYS[9], after + 1, known)
for _ = 1, added do
  lost_n = lost_n + 1
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), 'lost:' .. lost_n)
end
if fresh then
  local absent = tonumber(redis.call('HGET', KEYS[1], 'absent_ms')) or 60000
  local holds = tonumber(ARGV[10])
  for n = 1, holds do
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[9]) + absent, 'hold:' .. n)
  end
  redis.call('HSET', KEYS[1], 'hold_n', holds)
end
redis.call('HSET', KEYS[1], 'lost_n', lost_n, 'mark_ms', now, 'mark_n', counter, 'mark_prev_n', counter)
for i = 1, 7 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return {existed, before, after, fresh and 1 or 0, added}
