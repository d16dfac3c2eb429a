-- minute.lua: record a room's cumulative counters once a minute (Redis's clock) in a bounded
-- series, for the dashboard's outcomes over time and the crowd forecast. Whichever replica
-- calls first in a minute writes it; the others find it there, so every replica reads the same
-- series.
-- KEYS[1] meta  KEYS[2] stats  KEYS[3] minute series (zset, score unix minute)
-- ARGV[1] open refund-list entries now (the caller's count)  ARGV[2] series cap (minutes)
-- ARGV[3] TTL seconds
-- reply: {stored (1 | 0), unix minute}
local m = math.floor(tonumber(redis.call('TIME')[1]) / 60)
if #redis.call('ZRANGEBYSCORE', KEYS[3], m, m, 'LIMIT', 0, 1) > 0 then
  return {0, m}
end
local meta = redis.call('HMGET', KEYS[1], 'counter', 'opened', 'pq')
local st = redis.call('HMGET', KEYS[2], 'released:booked', 'released:failed', 'released:abandoned',
  'released:expired', 'admitted')
local f = {m, tonumber(meta[1]) or 0, tonumber(meta[2]) or 0, tonumber(meta[3]) or 0}
for i = 1, 5 do
  f[#f + 1] = tonumber(st[i]) or 0
end
f[#f + 1] = tonumber(ARGV[1]) or 0
redis.call('ZADD', KEYS[3], m, table.concat(f, '|'))
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[2]) + 1))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
return {1, m}
