-- ledger_admit.lua: record an admission in the outcome ledger (idempotent per lease: a second
-- claim of the same lease changes nothing), then keep the ledger within its bounds: records
-- older than the TTL and the oldest beyond the size bound go (at most 32 per call, so one call
-- stays short; every admission trims, so the bounds hold).
-- KEYS[1] ledger (hash lease id -> JSON)  KEYS[2] ledger index (zset lease id -> admitted ms)
-- KEYS[3] at-risk set (zset)
-- ARGV[1] lease id  ARGV[2] record JSON  ARGV[3] admitted ms  ARGV[4] TTL ms  ARGV[5] size bound
-- reply: {"OK", 1 if new | 0, records trimmed}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
local bound = tonumber(ARGV[5])
local new = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if new == 1 then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl), 'LIMIT', 0, 32)
local over = redis.call('ZCARD', KEYS[2]) - #gone - bound
if over > 0 then
  local more = redis.call('ZRANGE', KEYS[2], #gone, #gone + math.min(over, 32) - 1)
  for _, j in ipairs(more) do
    gone[#gone + 1] = j
  end
end
for _, j in ipairs(gone) do
  redis.call('HDEL', KEYS[1], j)
  redis.call('ZREM', KEYS[2], j)
  redis.call('ZREM', KEYS[3], j)
end
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {'OK', new, #gone}
