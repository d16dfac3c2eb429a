-- restore.lua: rebuild a room that lost data (Redis restarted without persistence, a failover
-- that lost writes) from a gateway's cache. Settings and the seed are only filled in where
-- missing (or overwritten, "set", when the room was re-created after the cache's copy); counters
-- are max-merged, so restores from several gateways commute and nothing goes
-- backwards. If the head had gone backwards, restored_head remembers the restored head: visitors
-- at or behind it whose offer was lost are let in once, through the returning set. Skipping is
-- suspended for AbsentAfter, since the liveness bitmaps are gone too.
-- Leases lost with the data cannot be rebuilt one by one (their admission tokens still verify
-- offline), so the cap stays honest with placeholders: "lost:<n>" members of the leases set, as
-- many as the cache counted active leases beyond those still present, expiring one session from
-- now (no lost token outlives that: it can no longer be extended). A release of a lost lease
-- takes one placeholder away (release.lua).
-- KEYS[1] meta hash  KEYS[2] stats hash  KEYS[3] leases zset
-- ARGV[1] room TTL ms; ARGV[2] active leases the cache knew; ARGV[3] session ms;
-- ARGV[4..] triples: mode ("nx" | "set" | "max" on meta, "smax" on stats), field, value
-- reply: {existed (1 | 0), head before, head after}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existed = redis.call('EXISTS', KEYS[1])
local before = tonumber(redis.call('HGET', KEYS[1], 'head')) or 0
for i = 4, #ARGV, 3 do
  local mode, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
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
if after > before then
  local rh = tonumber(redis.call('HGET', KEYS[1], 'restored_head')) or 0
  if after > rh then
    redis.call('HSET', KEYS[1], 'restored_head', after)
  end
end
local counter = tonumber(redis.call('HGET', KEYS[1], 'counter')) or 0
local absent = tonumber(redis.call('HGET', KEYS[1], 'absent_ms')) or 60000
if existed == 0 then
  redis.call('HSET', KEYS[1], 'credit', '0', 'last_ms', now, 'created_ms', now, 'mark_ms', now,
    'mark_n', counter, 'mark_prev_n', counter, 'ttl_ms', 0)
  redis.call('HSETNX', KEYS[1], 'restored_head', 0)
end
redis.call('HSET', KEYS[1], 'skip_after_ms', now + absent)
local want = tonumber(ARGV[2])
local have = redis.call('ZCARD', KEYS[3])
if want > have then
  local n = tonumber(redis.call('HGET', KEYS[1], 'lost_n')) or 0
  for _ = 1, want - have do
    n = n + 1
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), 'lost:' .. n)
  end
  redis.call('HSET', KEYS[1], 'lost_n', n)
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {existed, before, after}
