-- update.lua: change a room's settings if its version is the expected one, bump the version,
-- record the organiser's audit entry and announce the change, all in one atomic call: the
-- entry's before/after are exactly the versions this call replaced and wrote.
-- KEYS[1] meta hash  KEYS[2] the room's audit list
-- ARGV[1] expected version (the caller built the patch on it)  ARGV[2] 1 if opens_at changes
-- (refused once opened)  ARGV[3] audit entry (opaque; prefixed here with Redis's time in µs)
-- ARGV[4] audit bound (entries kept)  ARGV[5] announcement channel  ARGV[6] room name
-- ARGV[7..] field, value pairs (a change of absent_ms suspends skipping for the new AbsentAfter,
-- since the liveness epochs change length)
-- reply: {"OK", meta (flat HGETALL)} | {"NOROOM"} | {"CONFLICT", meta (flat HGETALL)} | {"OPENED"}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local m = redis.call('HMGET', KEYS[1], 'version', 'opened')
if tonumber(ARGV[1]) ~= tonumber(m[1]) then
  return {'CONFLICT', redis.call('HGETALL', KEYS[1])}
end
if ARGV[2] == '1' and m[2] == '1' then
  return {'OPENED'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 7, #ARGV, 2 do
  if ARGV[i] == 'absent_ms' and redis.call('HGET', KEYS[1], 'absent_ms') ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], 'skip_after_ms', now + tonumber(ARGV[i + 1]))
  end
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('LPUSH', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])) .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'OK', redis.call('HGETALL', KEYS[1])}
