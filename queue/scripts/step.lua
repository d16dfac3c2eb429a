-- step.lua: one admission step for a room, and the room's snapshot for the caller's cache.
-- Any number of replicas may run it at once: all state is here and the clock is Redis's TIME.
--  1. open the room when due (fix the pre-queue size P; the seed may then be revealed);
--  2. expire offers (to the skipped set: the visitor may come back within grace) and leases;
--  3. trim the skipped set to the grace period;
--  4. while open: accrue credit (rate per minute, capped at one second's worth, at least 1);
--     serve returning visitors first, in the order of their returning-lane number (the score;
--     'rserved' records the last one served, so a returner's place is its number minus it),
--     then advance the head: a position whose visitor is absent
--     is skipped without spending credit or capacity (at most ARGV[1] per call); a present one
--     is offered while credit >= 1 and offers + leases < max_active.
-- A position is only skippable after skip_after_ms (AbsentAfter after opening or a restore) and
-- if it is pre-queue or was issued at least AbsentAfter ago (mark_prev_n), so the gateways had
-- time to mark it.
-- KEYS[1] meta  KEYS[2] stats  KEYS[3] offers  KEYS[4] leases  KEYS[5] lease  KEYS[6] skipped
-- KEYS[7] returning  KEYS[8] orphans  KEYS[9] seen, current epoch  KEYS[10] seen, previous epoch
-- KEYS[11] re-entry lane (issue 14: visitors whose booking failed, served before everyone, at
-- most reentry_share of the pace: their own credit 'rcredit' accrues at rate * share, and each
-- re-entry spends one of both credits)
-- ARGV[1] max skips per call  ARGV[2] room TTL ms  ARGV[3] max expiries per call
-- reply: {"NOROOM"} |
--        {"OK", now ms, meta (flat HGETALL), offers, leases, returning, skipped, stats (flat HGETALL),
--         re-entries waiting}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local max_skips = tonumber(ARGV[1])
local room_ttl = tonumber(ARGV[2])
local max_exp = tonumber(ARGV[3])
local m = redis.call('HMGET', KEYS[1], 'state', 'opens_at_ms', 'opened', 'counter', 'head', 'pq',
  'rate', 'max_active', 'absent_ms', 'grace_ms', 'credit', 'last_ms', 'skip_after_ms', 'mark_ms',
  'mark_n', 'mark_prev_n', 'ttl_ms', 'stock', 'cap_stock', 'reentry_share', 'rcredit', 'rlast_ms')
local state = m[1]
local opens_at = tonumber(m[2]) or 0
local opened = tonumber(m[3]) or 0
local counter = tonumber(m[4]) or 0
local head = tonumber(m[5]) or 0
local pq = tonumber(m[6]) or 0
local rate = setting(m[7], 'rate')
local max_active = setting(m[8], 'max_active')
local absent = setting(m[9], 'absent_ms')
local grace = setting(m[10], 'grace_ms')
local credit = tonumber(m[11]) or 0
local last = tonumber(m[12]) or now
local skip_after = tonumber(m[13]) or 0
local mark_ms = tonumber(m[14]) or now
local mark_n = tonumber(m[15]) or 0
local mark_prev_n = tonumber(m[16]) or 0
local ttl_ms = tonumber(m[17]) or 0
-- issue 14, sold-out honesty: stock 0 (sold out) admits nobody; with cap_stock the cap follows
-- the stock left
local stock = tonumber(m[18]) or -1
if m[19] == '1' and stock > 0 then
  max_active = math.min(max_active, stock)
end
-- issue 14, second chance: a room created before re-entries existed has no share: off
local share = tonumber(m[20]) or 0
local rcredit = tonumber(m[21]) or 0
local rlast = tonumber(m[22]) or now

if opened ~= 1 and state ~= 'closed' and now >= opens_at then
  opened = 1
  pq = counter
  credit = 0
  last = opens_at
  skip_after = now + absent
  redis.call('HSET', KEYS[1], 'opened', 1, 'pq', pq, 'opened_ms', now, 'skip_after_ms', skip_after)
end

local skipped_n = 0
local added = false
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, max_exp)
for _, pos in ipairs(expired) do
  redis.call('ZREM', KEYS[3], pos)
  redis.call('ZADD', KEYS[6], now, pos)
end
if #expired > 0 then
  skipped_n = #expired
  added = true
  redis.call('HINCRBY', KEYS[2], 'offers_expired', #expired)
end

local ended = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, max_exp)
for _, jti in ipairs(ended) do
  local d = redis.call('HGET', KEYS[5], 'j:' .. jti)
  if d then
    local claimed = tonumber(string.match(d, '^%d+|%d+|(%d+)|'))
    if claimed then
      redis.call('HINCRBY', KEYS[2], 'session_ms', math.max(0, now - claimed))
      redis.call('HINCRBY', KEYS[2], 'sessions', 1)
    end
    redis.call('HDEL', KEYS[5], 'j:' .. jti)
    local pos = string.match(d, '^(%d+)|')
    if pos then
      redis.call('HDEL', KEYS[5], 'p:' .. pos)
    end
  end
  redis.call('ZREM', KEYS[4], jti)
end
if #ended > 0 then
  redis.call('HINCRBY', KEYS[2], 'released:expired', #ended)
end

redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. (now - grace))

if now - mark_ms >= absent then
  mark_prev_n = mark_n
  mark_n = counter
  mark_ms = now
end

local admitted = 0
if opened == 1 and state == 'open' and stock ~= 0 then
  credit = accrue(credit, last, now, rate)
  local cap = max_active - redis.call('ZCARD', KEYS[3]) - redis.call('ZCARD', KEYS[4])
  do
    -- share 0 (turned off): no one new enters the lane; those already in it are served as
    -- returners are, so nobody is left waiting in it
    if share > 0 then
      rcredit = accrue(rcredit, rlast, now, rate * share)
    end
    local served = 0
    while credit >= 1 and (rcredit >= 1 or share <= 0) and cap > 0 do
      local r = redis.call('ZPOPMIN', KEYS[11])
      if #r == 0 then
        break
      end
      redis.call('ZADD', KEYS[3], now + absent, r[1])
      redis.call('HSET', KEYS[1], 'eserved', r[2])
      credit = credit - 1
      rcredit = math.max(0, rcredit - 1)
      cap = cap - 1
      admitted = admitted + 1
      served = served + 1
    end
    if served > 0 then
      redis.call('HINCRBY', KEYS[2], 'reentry:offered', served)
    end
  end
  while credit >= 1 and cap > 0 do
    local r = redis.call('ZPOPMIN', KEYS[7])
    if #r == 0 then
      break
    end
    redis.call('ZADD', KEYS[3], now + absent, r[1])
    redis.call('HSET', KEYS[1], 'rserved', r[2])
    credit = credit - 1
    cap = cap - 1
    admitted = admitted + 1
  end
  local can_skip = now >= skip_after
  local skips = 0
  while head < counter do
    local q = head + 1
    if can_skip and (q <= pq or q <= mark_prev_n)
        and redis.call('GETBIT', KEYS[9], q) == 0 and redis.call('GETBIT', KEYS[10], q) == 0 then
      if skips >= max_skips then
        break
      end
      head = q
      skips = skips + 1
      redis.call('ZADD', KEYS[6], now, q)
    elseif credit >= 1 and cap > 0 then
      head = q
      credit = credit - 1
      cap = cap - 1
      admitted = admitted + 1
      redis.call('ZADD', KEYS[3], now + absent, q)
    else
      break
    end
  end
  skipped_n = skipped_n + skips
  if admitted > 0 or skips > 0 then
    added = true
  end
end
last = now
if admitted > 0 then
  redis.call('HINCRBY', KEYS[2], 'admitted', admitted)
end
if skipped_n > 0 then
  redis.call('HINCRBY', KEYS[2], 'skipped', skipped_n)
end
redis.call('HSET', KEYS[1], 'head', head, 'credit', string.format('%.9f', credit), 'last_ms', last,
  'mark_ms', mark_ms, 'mark_n', mark_n, 'mark_prev_n', mark_prev_n,
  'rcredit', string.format('%.9f', rcredit), 'rlast_ms', now)

if added or now - ttl_ms >= 60000 then
  for i = 1, 8 do
    redis.call('PEXPIRE', KEYS[i], room_ttl)
  end
  redis.call('PEXPIRE', KEYS[11], room_ttl)
  redis.call('HSET', KEYS[1], 'ttl_ms', now)
end

return {'OK', now, redis.call('HGETALL', KEYS[1]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[7]), redis.call('ZCARD', KEYS[6]),
  redis.call('HGETALL', KEYS[2]), redis.call('ZCARD', KEYS[11])}
