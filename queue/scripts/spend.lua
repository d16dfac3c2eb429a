-- spend.lua: after a restore, one gateway's account of what it saw before the loss. Positions
-- it saw claimed are set in the orphans bitmap, so their visitors (served already) are not let
-- in again as orphans; leases it saw claimed after the restoring cache was taken and before the
-- restore (so counted nowhere) get placeholders, like the leases the cache counted, each taking
-- the place of one capacity hold (restore.lua held capacity for the offer it was claimed from).
-- KEYS[1] orphans bitmap  KEYS[2] upload scratch key  KEYS[3] leases zset  KEYS[4] meta
-- ARGV[1] bitmap of claimed positions (Redis bit order; may be empty)  ARGV[2] room TTL ms
-- ARGV[3] placeholders to add  ARGV[4] their expiry ms (the leases' latest end)
-- ARGV[5] the restore answered (restored_ms): nothing is done if the room has had another since
-- reply: {"OK", placeholders added} | {"STALE"}
if tonumber(redis.call('HGET', KEYS[4], 'restored_ms')) ~= tonumber(ARGV[5]) then
  return {'STALE'}
end
if #ARGV[1] > 0 then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', 60000)
  redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local n = tonumber(ARGV[3])
if n > 0 then
  local m = redis.call('HMGET', KEYS[4], 'lost_n', 'hold_n')
  local lost_n = tonumber(m[1]) or 0
  local hn = tonumber(m[2]) or 0
  for _ = 1, n do
    lost_n = lost_n + 1
    redis.call('ZADD', KEYS[3], ARGV[4], 'lost:' .. lost_n)
    -- the lease came from an admission the restore held capacity for: that hold is spent
    while hn > 0 do
      local removed = redis.call('ZREM', KEYS[3], 'hold:' .. hn)
      hn = hn - 1
      if removed == 1 then
        break
      end
    end
  end
  redis.call('HSET', KEYS[4], 'lost_n', lost_n, 'hold_n', hn)
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return {'OK', n}
