-- join.lua: issue n consecutive ticket numbers (a batch of coalesced joins). Opens the room
-- first when its time has come, so a ticket is pre-queue exactly when issued before opening.
-- KEYS[1] meta hash
-- ARGV[1] n, the number of tickets to issue
-- ARGV[2] floor: the highest number the caller knows was issued; a counter below it means the
--         room's data was lost, and nothing is issued (NOROOM) until it is restored
-- reply: {"NOROOM"} | {"CLOSED"} | {"SCHEDULED"} |
--        {"OK", last number issued, opened (0 | 1), pre-queue size P, now ms}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local m = redis.call('HMGET', KEYS[1], 'state', 'opens_at_ms', 'prequeue_at_ms', 'opened', 'counter', 'pq')
local state = m[1]
local opens_at = tonumber(m[2]) or 0
local prequeue_at = tonumber(m[3]) or 0
local opened = tonumber(m[4]) or 0
local counter = tonumber(m[5]) or 0
local pq = tonumber(m[6]) or 0
if state == 'closed' then
  return {'CLOSED'}
end
if opened ~= 1 and now >= opens_at then
  local absent = tonumber(redis.call('HGET', KEYS[1], 'absent_ms')) or 60000
  opened = 1
  pq = counter
  redis.call('HSET', KEYS[1], 'opened', 1, 'pq', pq, 'opened_ms', now, 'credit', '0',
    'last_ms', opens_at, 'skip_after_ms', now + absent)
end
if opened ~= 1 and now < prequeue_at then
  return {'SCHEDULED'}
end
local floor = tonumber(ARGV[2]) or 0
if floor > counter then
  -- data was lost (an older snapshot): the caller restores the room first, with a margin for
  -- the numbers other gateways may have issued
  return {'NOROOM'}
end
counter = counter + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'counter', counter)
return {'OK', counter, opened, pq, now}
