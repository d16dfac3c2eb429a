-- ledger_resolve.lua: an organiser marks a flagged admission resolved (refunded, or booked by
-- hand): the record keeps the resolution, who and when, it leaves the at-risk set, and the
-- organisers' audit log gets the entry, in one atomic call.
-- KEYS[1] ledger  KEYS[2] at-risk set  KEYS[3] the room's audit list
-- ARGV[1] lease id  ARGV[2] resolution  ARGV[3] actor  ARGV[4] audit entry  ARGV[5] audit bound
-- reply: {"OK", record JSON} | {"NONE"} | {"RESOLVED", record JSON}
local d = redis.call('HGET', KEYS[1], ARGV[1])
if not d then
  return {'NONE'}
end
local r = cjson.decode(d)
if r.res then
  return {'RESOLVED', d}
end
local t = redis.call('TIME')
r.res = ARGV[2]
r.rby = ARGV[3]
r.rat = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = cjson.encode(r)
redis.call('HSET', KEYS[1], ARGV[1], out)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('LPUSH', KEYS[3], t[1] .. string.format('%06d', tonumber(t[2])) .. ' ' .. ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return {'OK', out}
