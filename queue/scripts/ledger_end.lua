-- ledger_end.lua: record the outcome the backend reported with its release call (the first
-- one stands), with the session's end. A booking ends the record's risk: it is no longer a
-- candidate for the refund list. A failure puts it on that list (the backend reports failed
-- when a booking failed after the payment), unless a confirmation was seen or it was resolved.
-- KEYS[1] ledger  KEYS[2] at-risk set
-- ARGV[1] lease id  ARGV[2] outcome (booked | abandoned | failed)
-- reply: {"OK"} | {"NONE"} (no record: a lost room, a fail-open admission, trimmed) | {"ENDED"}
local d = redis.call('HGET', KEYS[1], ARGV[1])
if not d then
  return {'NONE'}
end
local r = cjson.decode(d)
if r.o then
  return {'ENDED'}
end
local t = redis.call('TIME')
r.o = ARGV[2]
r.e = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
if ARGV[2] == 'booked' then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ARGV[2] == 'failed' and not r.res and not r.cok then
  redis.call('ZADD', KEYS[2], 'NX', r.e, ARGV[1])
  local p = redis.call('PTTL', KEYS[1])
  if p > 0 then
    redis.call('PEXPIRE', KEYS[2], p)
  end
end
return {'OK'}
