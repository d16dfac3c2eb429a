-- create.lua: create a room (its meta hash) unless it exists; an existing room is kept as is.
-- KEYS[1] meta hash
-- ARGV[1] room TTL in ms; ARGV[2..] field, value pairs: the settings, seed and commit
-- reply: {created (1 | 0), meta as a flat field/value list}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'version', 1, 'counter', 0, 'head', 0, 'pq', 0, 'opened', 0,
  'opened_ms', 0, 'credit', '0', 'last_ms', now, 'created_ms', now, 'mark_ms', now, 'mark_n', 0,
  'mark_prev_n', 0, 'restored_head', 0, 'skip_after_ms', 0, 'ttl_ms', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {1, redis.call('HGETALL', KEYS[1])}
