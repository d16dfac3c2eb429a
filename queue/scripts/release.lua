-- release.lua: end a lease now, freeing its slot under the cap, and count the outcome.
-- A lease lost with the room's data (see restore.lua) is released by taking one of the
-- "lost:<n>" placeholders away, so the slot still frees at once.
-- KEYS[1] lease hash  KEYS[2] leases  KEYS[3] stats  KEYS[4] meta
-- ARGV[1] lease id (jti)  ARGV[2] outcome (booked | abandoned | failed)
-- Ended sessions are counted with their length (stats session_ms, sessions).
-- reply: {"OK", lease data} | {"OK", ""} (a placeholder) | {"UNKNOWN"}
local d = redis.call('HGET', KEYS[1], 'j:' .. ARGV[1])
if not d then
  local n = tonumber(redis.call('HGET', KEYS[4], 'lost_n')) or 0
  while n > 0 do
    local removed = redis.call('ZREM', KEYS[2], 'lost:' .. n)
    n = n - 1
    if removed == 1 then
      redis.call('HSET', KEYS[4], 'lost_n', n)
      redis.call('HINCRBY', KEYS[3], 'released:' .. ARGV[2], 1)
      return {'OK', ''}
    end
  end
  if redis.call('HEXISTS', KEYS[4], 'lost_n') == 1 then
    redis.call('HSET', KEYS[4], 'lost_n', 0)
  end
  return {'UNKNOWN'}
end
redis.call('HDEL', KEYS[1], 'j:' .. ARGV[1])
local pos = string.match(d, '^(%d+)|')
if pos and redis.call('HGET', KEYS[1], 'p:' .. pos) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'p:' .. pos)
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'released:' .. ARGV[2], 1)
local claimed = tonumber(string.match(d, '^%d+|%d+|(%d+)|'))
if claimed then -- measured session lengths: the ETA's cap turnover
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('HINCRBY', KEYS[3], 'session_ms', math.max(0, now - claimed))
  redis.call('HINCRBY', KEYS[3], 'sessions', 1)
end
return {'OK', d}
