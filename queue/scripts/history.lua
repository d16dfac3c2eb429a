-- history.lua: one replica's once-a-second record of a room for the shared dashboard history.
-- Adds this replica's counts since its last record to the room's fleet counters (every
-- replica's), then, if no sample holds this second yet (Redis's clock), stores one: the
-- caller's figures and the fleet counters. The first sample of each 10-second bucket also
-- goes to the coarse series. Each series is trimmed to its newest entries; every key gets the
-- TTL.
-- KEYS[1] fleet counters (hash)  KEYS[2] 1 s series (zset)  KEYS[3] 10 s series (zset)
-- ARGV[1] figures ("n,n,...", no '|')  ARGV[2] TTL seconds  ARGV[3] 1 s series cap
-- ARGV[4] 10 s series cap  ARGV[5..] counter name, increment pairs
-- reply: {stored (1 | 0), Redis time (unix s)}
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
if #ARGV >= 5 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
if #redis.call('ZRANGEBYSCORE', KEYS[2], now, now, 'LIMIT', 0, 1) > 0 then
  return {0, now}
end
local kv = redis.call('HGETALL', KEYS[1])
local pairs_ = {}
for i = 1, #kv, 2 do
  pairs_[#pairs_ + 1] = kv[i] .. '=' .. kv[i + 1]
end
table.sort(pairs_)
local member = now .. '|' .. ARGV[1] .. '|' .. table.concat(pairs_, ',')
redis.call('ZADD', KEYS[2], now, member)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[2], ttl)
local b = now - now % 10
if #redis.call('ZRANGEBYSCORE', KEYS[3], b, b + 9, 'LIMIT', 0, 1) == 0 then
  redis.call('ZADD', KEYS[3], now, member)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[4]) + 1))
end
redis.call('EXPIRE', KEYS[3], ttl)
return {1, now}
