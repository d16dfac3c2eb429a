-- release.lua: end a lease now, freeing its slot under the cap, and count the outcome.
-- KEYS[1] lease hash  KEYS[2] leases  KEYS[3] stats
-- ARGV[1] lease id (jti)  ARGV[2] outcome (booked | abandoned | failed)
-- reply: {"OK", lease data} | {"UNKNOWN"}
local d = redis.call('HGET', KEYS[1], 'j:' .. ARGV[1])
if not d then
  return {'UNKNOWN'}
end
redis.call('HDEL', KEYS[1], 'j:' .. ARGV[1])
local pos = string.match(d, '^(%d+)|')
if pos and redis.call('HGET', KEYS[1], 'p:' .. pos) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'p:' .. pos)
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'released:' .. ARGV[2], 1)
return {'OK', d}
