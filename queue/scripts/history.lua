-- history.lua: one replica's once-a-second record of a room for the shared dashboard history.
-- Adds this replica's counts since its last record to the room's fleet counters (every
-- replica's), then, if no sample holds this second yet (Redis's clock) and the figures or the
-- counters changed since the newest sample, stores one: the caller's figures and the fleet
-- counters. An unchanged room stores nothing (an idle room's history does not grow), only the
-- second it was last seen unchanged; when it changes after such a quiet stretch, the unchanged
-- values are stored once more at that second, so a chart draws the quiet stretch flat. The
-- 10-second series gets the first sample of each 10-second bucket. Each series is trimmed to
-- its newest entries; every key gets the TTL.
-- KEYS[1] fleet counters (hash)  KEYS[2] 1 s series (zset)  KEYS[3] 10 s series (zset)
-- KEYS[4] the second the room was last recorded unchanged (string)
-- ARGV[1] figures ("n,n,...", no '|')  ARGV[2] TTL seconds  ARGV[3] 1 s series cap
-- ARGV[4] 10 s series cap  ARGV[5..] counter name, increment pairs
-- reply: {stored (1 | 0), Redis time (unix s)}
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
-- keep refreshes the TTL of every key that exists
local function keep()
  for i = 1, 4 do
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
if #redis.call('ZRANGEBYSCORE', KEYS[2], now, now, 'LIMIT', 0, 1) > 0 then
  keep()
  return {0, now}
end
local kv = redis.call('HGETALL', KEYS[1])
local pairs_ = {}
for i = 1, #kv, 2 do
  pairs_[#pairs_ + 1] = kv[i] .. '=' .. kv[i + 1]
end
table.sort(pairs_)
local body = ARGV[1] .. '|' .. table.concat(pairs_, ',')

local function trim(key, cap)
  redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
end
local function free(key, t)
  local b = t - t % 10
  return #redis.call('ZRANGEBYSCORE', key, b, b + 9, 'LIMIT', 0, 1) == 0
end

local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local nb, nt = nil, 0
if newest[1] then
  nb, nt = string.match(newest[1], '^[^|]*|(.*)$'), tonumber(newest[2])
end
if nb == body then
  redis.call('SET', KEYS[4], now) -- unchanged: remember it was so at this second
  keep()
  return {0, now}
end
local q = tonumber(redis.call('GET', KEYS[4]) or '0')
if nb and q > nt and q < now then
  -- the newest values held until q: store them there once more, so the quiet stretch is flat
  redis.call('ZADD', KEYS[2], q, q .. '|' .. nb)
  if q - q % 10 ~= now - now % 10 and free(KEYS[3], q) then
    redis.call('ZADD', KEYS[3], q, q .. '|' .. nb)
  end
end
redis.call('DEL', KEYS[4])
redis.call('ZADD', KEYS[2], now, now .. '|' .. body)
trim(KEYS[2], tonumber(ARGV[3]))
if free(KEYS[3], now) then
  redis.call('ZADD', KEYS[3], now, now .. '|' .. body)
end
trim(KEYS[3], tonumber(ARGV[4]))
keep()
return {1, now}
