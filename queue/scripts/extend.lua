-- extend.lua: slide a lease's expiry to now + session, never past its max-until time.
-- KEYS[1] meta  KEYS[2] lease hash  KEYS[3] leases
-- ARGV[1] lease id (jti)
-- reply: {"OK", lease data "position|ticket|claimed ms|max until ms|visitor", expires ms} | {"UNKNOWN"}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local d = redis.call('HGET', KEYS[2], 'j:' .. ARGV[1])
local cur = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not d or not cur or tonumber(cur) <= now then
  return {'UNKNOWN'}
end
local session = tonumber(redis.call('HGET', KEYS[1], 'session_ms')) or 600000
local max_until = tonumber(string.match(d, '^%d+|%d+|%d+|(%d+)|')) or now
local exp = math.min(now + session, max_until)
if exp > tonumber(cur) then
  redis.call('ZADD', KEYS[3], exp, ARGV[1])
else
  exp = tonumber(cur)
end
return {'OK', d, exp}
