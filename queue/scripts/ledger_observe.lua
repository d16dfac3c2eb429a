-- ledger_observe.lua: count what foyer saw of the backend for one admission on a path the
-- organiser marked (proxy mode): a response class on a payment or confirm path, and the
-- backend's order reference if it sent one. A successful payment puts the admission at risk
-- (charged, not yet confirmed); a successful confirmation takes it off.
-- A successful payment also makes the admission's position a re-entry candidate (issue 14:
-- "c:<position>" = lease id in the re-entry grants; claim.lua checks the evidence when the
-- visitor comes back).
-- KEYS[1] ledger  KEYS[2] at-risk set  KEYS[3] re-entry grants
-- ARGV[1] lease id  ARGV[2] kind (pay | conf)  ARGV[3] class (2xx 3xx 4xx 5xx timeout error)
-- ARGV[4] order reference ("" if none)  ARGV[5] room TTL ms
-- reply: {"OK"} | {"NONE"}
local d = redis.call('HGET', KEYS[1], ARGV[1])
if not d then
  return {'NONE'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = cjson.decode(d)
local c = r[ARGV[2]]
if type(c) ~= 'table' then
  c = {}
end
c[ARGV[3]] = (tonumber(c[ARGV[3]]) or 0) + 1
r[ARGV[2]] = c
if ARGV[4] ~= '' then
  r.ref = ARGV[4]
end
if ARGV[3] == '2xx' then
  if ARGV[2] == 'pay' then
    r.pat = r.pat or now
    if not r.res and not r.cok and r.o ~= 'booked' then
      redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1])
      local p = redis.call('PTTL', KEYS[1])
      if p > 0 then
        redis.call('PEXPIRE', KEYS[2], p)
      end
      if r.p then
        redis.call('HSET', KEYS[3], 'c:' .. tostring(r.p), ARGV[1])
        redis.call('PEXPIRE', KEYS[3], ARGV[5])
      end
    end
  else
    r.cok = now
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
return {'OK'}
