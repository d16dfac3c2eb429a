-- join.lua: issue ticket numbers for a batch of coalesced joins. Opens the room first when its
-- time has come, so a ticket is pre-queue exactly when issued before opening. Each join may
-- carry its client address (counted fleet-wide per minute: past the allowance a join without
-- a proof-of-work gets no number) and a proof-of-work id (good once, fleet-wide).
-- KEYS[1] meta hash  KEYS[2] address counts, this minute  KEYS[3] address counts, last minute
-- KEYS[4..] spent proof-of-work ids, one hash per minute of the proofs' expiry
-- ARGV[1] n, the number of joins in the batch
-- ARGV[2] floor: the highest number the caller knows was issued; a counter below it means the
--         room's data was lost, and nothing is issued (NOROOM) until it is restored
-- ARGV[3] weight of last minute's count in the sliding count (0..1, the part of last minute
--         still inside the window)  ARGV[4] TTL of the address counts, ms
-- ARGV[5..4+5n] per join: address ("" counts nothing), allowance (joins per minute the address
--         may make without a proof; 0: no limit), proof key index after KEYS[3] (0: no proof),
--         proof id, expiry of the spent-proof hash (ms since the epoch)
--         (none at all: every join of the batch is issued, and the reply has no per-join part)
-- reply: {"NOROOM"} | {"CLOSED"} | {"SCHEDULED"} |
--        {"OK", last number issued, opened (0 | 1), pre-queue size P, now ms,
--         then per join: outcome (0 issued, 1 over the allowance: no number, 2 proof spent: no
--         number), the address's sliding count of joins in thousandths}
-- Numbers go to the issued joins in batch order: the k-th issued gets last - issued + k.
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
local n = tonumber(ARGV[1])
if #ARGV == 4 then
  -- no per-join arguments: every join gets a number
  counter = counter + n
  redis.call('HSET', KEYS[1], 'counter', counter)
  return {'OK', counter, opened, pq, now}
end
local weight = tonumber(ARGV[3]) or 0
local out = {}
local issued = 0
local counted = false
local prev = {}
for i = 0, n - 1 do
  local a = 5 + 5 * i
  local addr = ARGV[a] or ''
  local allowance = tonumber(ARGV[a + 1]) or 0
  local pk = tonumber(ARGV[a + 2]) or 0
  local outcome = 0
  local est = 0
  if pk > 0 then
    local key = KEYS[3 + pk]
    if redis.call('HSETNX', key, ARGV[a + 3], 1) == 0 then
      outcome = 2
    else
      redis.call('PEXPIREAT', key, ARGV[a + 4])
    end
  end
  if addr ~= '' then
    local p = prev[addr]
    if p == nil then
      p = tonumber(redis.call('HGET', KEYS[3], addr)) or 0
      prev[addr] = p
    end
    local cur = tonumber(redis.call('HGET', KEYS[2], addr)) or 0
    est = cur + p * weight
    if outcome == 0 and pk == 0 and allowance > 0 and est + 1 > allowance then
      outcome = 1
    end
    if outcome == 0 then
      redis.call('HINCRBY', KEYS[2], addr, 1)
      counted = true
      est = est + 1
    end
  end
  if outcome == 0 then
    issued = issued + 1
  end
  out[#out + 1] = outcome
  out[#out + 1] = math.floor(est * 1000)
end
if counted then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
counter = counter + issued
redis.call('HSET', KEYS[1], 'counter', counter)
local reply = {'OK', counter, opened, pq, now}
for i = 1, #out do
  reply[#reply + 1] = out[i]
end
return reply
