-- ledger_end.lua: record the outcome the backend reported with its release call (the first
-- one stands), with the session's end. A booking ends the record's risk: it is no longer a
-- candidate for the refund list.
-- A failed report (only the booking backend may make one: the gateway checks its key) grants
-- the visitor a second chance (issue 14, reentry.go) while the room's reentry_share is above 0:
-- release.lua grants it for a live lease; here the record notes it (rg = backend, rga =
-- granted ms, rgu = until ms), and a late report (the lease had expired, so release.lua found
-- none) grants it here: "g:<position>" = "backend|<lease>|<until ms>|<visitor>", usable within
-- the room's grace, never for a position that used one already ("u:<position>", claim.lua),
-- counted (reentry:granted:backend).
-- KEYS[1] ledger  KEYS[2] at-risk set  KEYS[3] re-entry grants  KEYS[4] meta  KEYS[5] stats
-- ARGV[1] lease id  ARGV[2] outcome (booked | abandoned | failed)  ARGV[3] room TTL ms
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
if ARGV[2] == 'booked' then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[2] == 'failed' and r.p and r.v then
  local m = redis.call('HMGET', KEYS[4], 'reentry_share', 'grace_ms')
  local pos = tostring(r.p)
  local g = redis.call('HGET', KEYS[3], 'g:' .. pos)
  local gjti, guntil
  if g then
    gjti, guntil = string.match(g, '^backend|([^|]*)|(%d+)|')
  end
  if gjti == ARGV[1] then -- granted by release.lua, just now
    r.rg, r.rga, r.rgu = 'backend', r.e, tonumber(guntil)
  elseif not g and (tonumber(m[1]) or 0) > 0 and redis.call('HEXISTS', KEYS[3], 'u:' .. pos) == 0 then
    local until_ms = r.e + (tonumber(m[2]) or 0)
    redis.call('HSET', KEYS[3], 'g:' .. pos, 'backend|' .. ARGV[1] .. '|' .. until_ms .. '|' .. r.v)
    redis.call('PEXPIRE', KEYS[3], ARGV[3])
    redis.call('HINCRBY', KEYS[5], 'reentry:granted:backend', 1)
    r.rg, r.rga, r.rgu = 'backend', r.e, until_ms
  end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
return {'OK'}
