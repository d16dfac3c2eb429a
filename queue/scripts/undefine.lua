-- undefine.lua: move a runtime room's definition to the deleted rooms and announce it (issue
-- 15). The deleted entry keeps the definition, so a gateway started during the closing period
-- can still tell the room's visitors it is closed; entries older than the closing period are
-- pruned here.
-- KEYS[1] registry definitions hash  KEYS[2] deleted rooms hash  KEYS[3] registry version
-- ARGV[1] room name  ARGV[2] announcement channel  ARGV[3] closing period ms
-- reply: {"OK", deleted at ms, version} | {"NOROOM"}
local def = redis.call('HGET', KEYS[1], ARGV[1])
if not def then
  return {'NOROOM'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local closing = tonumber(ARGV[3])
local gone = redis.call('HGETALL', KEYS[2])
for i = 1, #gone, 2 do
  local at = tonumber(string.match(gone[i + 1], '^(%d+)|')) or 0
  if now - at > closing then
    redis.call('HDEL', KEYS[2], gone[i])
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now .. '|' .. def)
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {'OK', now, v}
