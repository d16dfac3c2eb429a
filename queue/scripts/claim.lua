-- claim.lua: turn an admission into a lease, idempotently per position (two tabs of one visitor
-- get the same lease). For a position at or behind the head: an existing lease is returned; an
-- offer becomes a lease; a visitor skipped within grace (or an orphan of a restore, while the
-- restore's budget of outstanding admissions lasts) is moved to the returning set, served first
-- by the next step (orphans only from orphans_from_ms, when the gateways have marked what they
-- saw claimed); anything else is spent. A lease held by another visitor (a number issued
-- twice) is refused as spent. For the position
-- just after the head (passthrough): when nobody is returning, credit >= 1 and capacity is free,
-- the head advances by one and the lease is made here, counted against the rate and the cap
-- exactly like a step's admission.
-- KEYS[1] meta  KEYS[2] stats  KEYS[3] offers  KEYS[4] leases  KEYS[5] lease  KEYS[6] skipped
-- KEYS[7] returning  KEYS[8] orphans  KEYS[9] re-entry grants (hash)  KEYS[10] re-entry lane
-- KEYS[11] ledger (hash lease id -> record JSON)
-- ARGV[1] position  ARGV[2] visitor  ARGV[3] new lease id (used if a lease is created)
-- ARGV[4] passthrough allowed (1 | 0)  ARGV[5] room TTL ms  ARGV[6] ticket number
-- A returner gets the next returning-lane number (meta 'rseq', the returning set's score): the
-- step serves returners in that order, so the caller can show their place (number - 'rserved')
-- and need not ask again until it is their turn.
-- Second chance (issue 14, see reentry.go): a position that would be spent gets a place in the
-- re-entry lane (meta 'eseq'; the step serves it first, within reentry_share of the pace) when
-- its visitor holds an unexpired grant the backend's failed report made (release.lua, or
-- ledger_end.lua for a late report: "g:<pos>" = "backend|<lease>|<until ms>|<visitor>") or when foyer's ledger holds evidence
-- that its last admission was charged but not booked ("c:<pos>" = the lease whose payment
-- succeeded: no confirmation, not booked, not resolved, within grace of the session's end).
-- Once per admission: the use is recorded ("u:<pos>" = "<by>|<lease>|<used ms>|<new lease>")
-- and no later grant or evidence counts for that position.
-- reply: {"LEASE", jti, lease data "position|ticket|claimed ms|max until ms|visitor", expires ms,
--         lease it re-enters for ("" if none), head} |
--        {"WAIT", head} | {"RETURNING", lane number, head} | {"REENTRY", lane number, head} |
--        {"SPENT", head} | {"CLOSED"} | {"PAUSED", head} | {"SOLDOUT", head} | {"NOROOM"}
-- Sold out (meta 'stock' = 0, issue 14): no new lease, no returner enters the lane; an existing
-- lease is still returned. With 'cap_stock' = 1 the passthrough's cap is min(max_active, stock).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local m = redis.call('HMGET', KEYS[1], 'state', 'opened', 'head', 'counter', 'rate', 'max_active',
  'session_ms', 'max_session_ms', 'grace_ms', 'absent_ms', 'credit', 'last_ms', 'restored_head', 'queue_all',
  'stock', 'cap_stock', 'reentry_share')
local state = m[1]
local opened = tonumber(m[2]) or 0
local head = tonumber(m[3]) or 0
local counter = tonumber(m[4]) or 0
local rate = setting(m[5], 'rate')
local max_active = setting(m[6], 'max_active')
local session = setting(m[7], 'session_ms')
local max_session = setting(m[8], 'max_session_ms')
local grace = setting(m[9], 'grace_ms')
local credit = tonumber(m[11]) or 0
local last = tonumber(m[12]) or now
local restored_head = tonumber(m[13]) or 0
local queue_all = m[14] == '1'
local pos = tonumber(ARGV[1])
local ttl = tonumber(ARGV[5])

-- the lease a re-entry of this position was for, if lease_id is that re-entry's lease ('' if
-- not); take: lease_id is a new lease made from an offer, so it becomes the re-entry's lease if
-- the re-entry has none yet
local function reentry_of(lease_id, take)
  local u = redis.call('HGET', KEYS[9], 'u:' .. ARGV[1])
  if not u then
    return ''
  end
  local old, got = string.match(u, '^[^|]*|([^|]*)|%d+|(.*)$')
  if not old then
    return ''
  end
  if got == '' and take then
    redis.call('HSET', KEYS[9], 'u:' .. ARGV[1], u .. lease_id)
    redis.call('HINCRBY', KEYS[2], 'reentry:admitted', 1)
    return old
  end
  if got == lease_id then
    return old
  end
  return ''
end

local existing = redis.call('HGET', KEYS[5], 'p:' .. ARGV[1])
if existing then
  local d = redis.call('HGET', KEYS[5], 'j:' .. existing)
  local exp = redis.call('ZSCORE', KEYS[4], existing)
  if d and exp then
    -- the lease is only this visitor's: another holder of the number is refused
    if string.match(d, '^%d+|%d+|%d+|%d+|(.*)$') ~= ARGV[2] then
      return {'SPENT', head}
    end
    return {'LEASE', existing, d, tonumber(exp), reentry_of(existing, false), head}
  end
end
if state == 'closed' then
  return {'CLOSED'}
end
if opened ~= 1 then
  return {'WAIT', head}
end
-- issue 14, sold-out honesty: stock 0 admits nobody
local stock = tonumber(m[15]) or -1
if stock == 0 then
  return {'SOLDOUT', head}
end
if m[16] == '1' and stock > 0 then
  max_active = math.min(max_active, stock)
end

local function lease(of)
  local max_until = now + max_session
  local exp = math.min(now + session, max_until)
  local d = ARGV[1] .. '|' .. ARGV[6] .. '|' .. now .. '|' .. max_until .. '|' .. ARGV[2]
  redis.call('HSET', KEYS[5], 'j:' .. ARGV[3], d, 'p:' .. ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[4], exp, ARGV[3])
  redis.call('PEXPIRE', KEYS[4], ttl)
  redis.call('PEXPIRE', KEYS[5], ttl)
  return {'LEASE', ARGV[3], d, exp, of or '', head}
end

if pos <= head then
  if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
    redis.call('ZREM', KEYS[3], ARGV[1])
    return lease(reentry_of(ARGV[3], true))
  end
  local lane = redis.call('ZSCORE', KEYS[7], ARGV[1])
  if lane then
    return {'RETURNING', tonumber(lane), head}
  end
  lane = redis.call('ZSCORE', KEYS[10], ARGV[1])
  if lane then
    return {'REENTRY', tonumber(lane), head}
  end
  local function enter_lane()
    local n = redis.call('HINCRBY', KEYS[1], 'rseq', 1)
    redis.call('ZADD', KEYS[7], n, ARGV[1])
    redis.call('PEXPIRE', KEYS[7], ttl)
    redis.call('HINCRBY', KEYS[2], 'returned', 1)
    return {'RETURNING', n, head}
  end
  local s = redis.call('ZSCORE', KEYS[6], ARGV[1])
  if s and tonumber(s) >= now - grace then
    redis.call('ZREM', KEYS[6], ARGV[1])
    return enter_lane()
  end
  local o = pos <= restored_head and redis.call('GETBIT', KEYS[8], pos) == 0
    and redis.call('HMGET', KEYS[1], 'orphan_budget', 'orphans_from_ms')
  if o and now < (tonumber(o[2]) or 0) then
    return {'WAIT', head} -- the gateways are still marking what they saw claimed (spend.lua)
  end
  if o and (tonumber(o[1]) or 0) > 0 then
    redis.call('HINCRBY', KEYS[1], 'orphan_budget', -1)
    -- its capacity was held since the restore ("hold:<n>" in the leases set): hand it over
    local hn = tonumber(redis.call('HGET', KEYS[1], 'hold_n')) or 0
    while hn > 0 do
      local removed = redis.call('ZREM', KEYS[4], 'hold:' .. hn)
      hn = hn - 1
      if removed == 1 then
        break
      end
    end
    redis.call('HSET', KEYS[1], 'hold_n', hn)
    redis.call('SETBIT', KEYS[8], pos, 1)
    redis.call('PEXPIRE', KEYS[8], ttl)
    return enter_lane()
  end
  -- a second chance: the backend's grant, or the ledger's evidence (see the header)
  local share = tonumber(m[17]) or 0
  if share > 0 and redis.call('HEXISTS', KEYS[9], 'u:' .. ARGV[1]) == 0 then
    local by, old
    local g = redis.call('HGET', KEYS[9], 'g:' .. ARGV[1])
    if g then
      local gby, gold, guntil, gvis = string.match(g, '^([^|]*)|([^|]*)|(%d+)|(.*)$')
      if gvis == ARGV[2] and now <= tonumber(guntil) then
        by, old = gby, gold
      end
    end
    local c = not by and redis.call('HGET', KEYS[9], 'c:' .. ARGV[1])
    local cd = c and redis.call('HGET', KEYS[11], c)
    if cd then
      local r = cjson.decode(cd)
      local ended = tonumber(r.e) or ((tonumber(r.a) or 0) + max_session)
      if r.v == ARGV[2] and r.pat and not r.cok and r.o ~= 'booked' and not r.res
          and now <= ended + grace then
        by, old = 'evidence', c
        redis.call('HINCRBY', KEYS[2], 'reentry:granted:evidence', 1)
      end
    end
    if by then
      local n = redis.call('HINCRBY', KEYS[1], 'eseq', 1)
      redis.call('ZADD', KEYS[10], n, ARGV[1])
      redis.call('PEXPIRE', KEYS[10], ttl)
      redis.call('HDEL', KEYS[9], 'g:' .. ARGV[1], 'c:' .. ARGV[1])
      redis.call('HSET', KEYS[9], 'u:' .. ARGV[1], by .. '|' .. old .. '|' .. now .. '|')
      redis.call('PEXPIRE', KEYS[9], ttl)
      redis.call('HINCRBY', KEYS[2], 'reentry:used', 1)
      -- the failed admission's ledger record says who granted its second chance and when it
      -- was used (the audit trail; the re-entry's own record names it, ledger_admit)
      local od = redis.call('HGET', KEYS[11], old)
      if od then
        local r = cjson.decode(od)
        r.rg = r.rg or by
        r.rga = r.rga or now
        r.ru = now
        redis.call('HSET', KEYS[11], old, cjson.encode(r))
      end
      return {'REENTRY', n, head}
    end
  end
  return {'SPENT', head}
end
if state ~= 'open' then
  return {'PAUSED', head}
end
if pos == head + 1 and pos <= counter and ARGV[4] == '1' and not queue_all
    and redis.call('ZCARD', KEYS[7]) == 0 then
  credit = accrue(credit, last, now, rate)
  last = math.max(last, now)
  local cap = max_active - redis.call('ZCARD', KEYS[3]) - redis.call('ZCARD', KEYS[4])
  if credit >= 1 and cap > 0 then
    credit = credit - 1
    head = pos
    redis.call('HSET', KEYS[1], 'head', head, 'credit', string.format('%.9f', credit), 'last_ms', last)
    redis.call('HINCRBY', KEYS[2], 'admitted', 1)
    return lease()
  end
  redis.call('HSET', KEYS[1], 'credit', string.format('%.9f', credit), 'last_ms', last)
end
return {'WAIT', head}
