-- release.lua: end a lease now, freeing its slot under the cap, and count the outcome. One-shot:
-- a released lease id is remembered in the released set until its token can no longer be
-- presented (its max-until time, or one max session from now for a lost lease), and a second
-- release of it changes nothing.
-- A lease lost with the room's data (see restore.lua) is released by taking one of the
-- "lost:<n>" placeholders away, so the slot still frees at once; only a lease id claimed before
-- the last restore (its claim time is in the id: "<position>.<claim ms>.<random>", base 36) can
-- do that, once.
-- A failed report of a live lease grants its visitor a second chance in the same atomic call
-- (issue 14, reentry.go; the gateway accepts failed only with a backend key), so a visitor who
-- comes back at once never finds the lease gone and the grant not yet made: "g:<position>" =
-- "backend|<lease>|<until ms: now + grace>|<visitor>" in the re-entry grants, while the room's
-- reentry_share is above 0 and the position never used one ("u:<position>", claim.lua).
-- KEYS[1] lease hash  KEYS[2] leases  KEYS[3] stats  KEYS[4] meta  KEYS[5] released zset
-- KEYS[6] re-entry grants
-- ARGV[1] lease id (jti)  ARGV[2] outcome (booked | abandoned | failed)  ARGV[3] room TTL ms
-- reply: {"OK", lease data} | {"OK", ""} (a placeholder) | {"UNKNOWN"} | {"NOROOM"}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local jti = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
if redis.call('ZSCORE', KEYS[5], jti) then
  return {'UNKNOWN'}
end
local function remember(until_ms)
  redis.call('ZADD', KEYS[5], until_ms, jti)
  redis.call('PEXPIRE', KEYS[5], ARGV[3])
  redis.call('HINCRBY', KEYS[3], 'released:' .. ARGV[2], 1)
end
local d = redis.call('HGET', KEYS[1], 'j:' .. jti)
if not d and redis.call('EXISTS', KEYS[4]) == 0 then
  return {'NOROOM'} -- lost and not restored yet: the caller restores the room and tries again
end
if not d then
  local m = redis.call('HMGET', KEYS[4], 'lost_n', 'restored_ms', 'max_session_ms', 'session_ms')
  local n = tonumber(m[1]) or 0
  local restored = tonumber(m[2]) or 0
  if n <= 0 or restored == 0 then
    return {'UNKNOWN'}
  end
  -- ids without a claim time come from before claim times were recorded: older than any restore
  local c36 = string.match(jti, '^[0-9a-z]+%.([0-9a-z]+)%.')
  local claimed = c36 and tonumber(c36, 36) or 0
  if claimed >= restored then
    return {'UNKNOWN'} -- claimed after the restore: Redis knew it, so it ended already
  end
  while n > 0 do
    local removed = redis.call('ZREM', KEYS[2], 'lost:' .. n)
    n = n - 1
    if removed == 1 then
      redis.call('HSET', KEYS[4], 'lost_n', n)
      local session = tonumber(m[3]) or tonumber(m[4]) or 600000
      remember(now + session)
      return {'OK', ''}
    end
  end
  redis.call('HSET', KEYS[4], 'lost_n', 0)
  return {'UNKNOWN'}
end
redis.call('HDEL', KEYS[1], 'j:' .. jti)
local pos = string.match(d, '^(%d+)|')
if pos and redis.call('HGET', KEYS[1], 'p:' .. pos) == jti then
  redis.call('HDEL', KEYS[1], 'p:' .. pos)
end
redis.call('ZREM', KEYS[2], jti)
remember(tonumber(string.match(d, '^%d+|%d+|%d+|(%d+)|')) or now)
local claimed = tonumber(string.match(d, '^%d+|%d+|(%d+)|'))
if claimed then -- measured session lengths (stats session_ms, sessions): the ETA's cap turnover
  redis.call('HINCRBY', KEYS[3], 'session_ms', math.max(0, now - claimed))
  redis.call('HINCRBY', KEYS[3], 'sessions', 1)
end
if ARGV[2] == 'failed' then
  local visitor = string.match(d, '^%d+|%d+|%d+|%d+|(.*)$')
  local m = redis.call('HMGET', KEYS[4], 'reentry_share', 'grace_ms')
  if pos and visitor and (tonumber(m[1]) or 0) > 0 and redis.call('HEXISTS', KEYS[6], 'u:' .. pos) == 0
      and redis.call('HEXISTS', KEYS[6], 'g:' .. pos) == 0 then
    redis.call('HSET', KEYS[6], 'g:' .. pos,
      'backend|' .. jti .. '|' .. (now + (tonumber(m[2]) or 0)) .. '|' .. visitor)
    redis.call('PEXPIRE', KEYS[6], ARGV[3])
    redis.call('HINCRBY', KEYS[3], 'reentry:granted:backend', 1)
  end
end
return {'OK', d}
