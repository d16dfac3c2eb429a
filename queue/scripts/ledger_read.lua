-- ledger_read.lua: read ledger records with whether each lease is still alive, in one call:
-- the at-risk ones (ARGV[1] = risk) or the newest of all (ARGV[1] = all).
-- KEYS[1] ledger  KEYS[2] ledger index  KEYS[3] at-risk set  KEYS[4] leases (zset id -> expiry)
-- ARGV[1] risk | all  ARGV[2] limit
-- reply: {now ms, id, JSON, lease expiry ms or -1, id, JSON, expiry, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids
if ARGV[1] == 'risk' then
  ids = redis.call('ZRANGE', KEYS[3], 0, tonumber(ARGV[2]) - 1)
else
  ids = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
end
local out = {now}
for _, j in ipairs(ids) do
  local d = redis.call('HGET', KEYS[1], j)
  if d then
    local exp = redis.call('ZSCORE', KEYS[4], j)
    out[#out + 1] = j
    out[#out + 1] = d
    out[#out + 1] = exp and tonumber(exp) or -1
  end
end
return out
