-- soldout.lua: record the stock the backend reports is left for a room (its release call), and
-- announce a change so every replica steps with it at once: 0 makes the room sold out (no step
-- admits, claim.lua refuses), a count lets the cap follow the stock (cap_stock).
-- Not a settings change: the version is not bumped and nothing is audited (a busy sale reports
-- with every booking; organisers' own changes go through update.lua, versioned and audited).
-- KEYS[1] meta hash  KEYS[2] stats hash
-- ARGV[1] remaining (>= 0, or -1: unknown)  ARGV[2] announcement channel  ARGV[3] room name
-- reply: {"OK", 1 if it changed | 0} | {"NOROOM"}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOROOM'}
end
local old = redis.call('HGET', KEYS[1], 'stock')
if old == ARGV[1] or (old == false and ARGV[1] == '-1') then
  return {'OK', 0}
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1])
redis.call('HINCRBY', KEYS[2], 'stock_reports', 1)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'OK', 1}
