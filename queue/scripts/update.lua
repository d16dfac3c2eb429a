-- update.lua: change a room's settings if its version is the expected one; bumps the version.
-- KEYS[1] meta hash
-- ARGV[1] expected version (0 = any)  ARGV[2] 1 if opens_at changes (refused once opened)
-- ARGV[3..] field, value pairs (a change of absent_ms suspends skipping for the new AbsentAfter,
-- since the liveness epochs change length)
-- reply: {"OK", meta (flat HGETALL)} | {"NOROOM"} | {"CONFLICT", current version} | {"OPENED"}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local m = redis.call('HMGET', KEYS[1], 'version', 'opened')
local v = tonumber(m[1]) or 0
if ARGV[1] ~= '0' and tonumber(ARGV[1]) ~= v then
  return {'CONFLICT', v}
end
if ARGV[2] == '1' and m[2] == '1' then
  return {'OPENED'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'absent_ms' and redis.call('HGET', KEYS[1], 'absent_ms') ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], 'skip_after_ms', now + tonumber(ARGV[i + 1]))
  end
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return {'OK', redis.call('HGETALL', KEYS[1])}
