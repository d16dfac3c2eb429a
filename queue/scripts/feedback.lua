-- feedback.lua: record one visitor's feedback on a room, once per visitor: the rating counted,
-- the comment (if any) kept among the newest, every key bounded and with the ledger's TTL.
-- KEYS[1] who (set of visitor digests)  KEYS[2] counts (hash rating -> n, "comments" -> n)
-- KEYS[3] comments (list of JSON {"r","c","t"}, newest first)
-- ARGV[1] visitor digest  ARGV[2] rating  ARGV[3] comment ("" for none)  ARGV[4] comments kept
-- ARGV[5] most visitors  ARGV[6] TTL ms
-- reply: {"OK"} | {"GIVEN"} (this visitor gave feedback before) | {"FULL"} (the bound is reached)
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return {'GIVEN'}
end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  return {'FULL'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'comments', 1)
  redis.call('LPUSH', KEYS[3], cjson.encode({r = tonumber(ARGV[2]), c = ARGV[3], t = now}))
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
end
local ttl = tonumber(ARGV[6])
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {'OK'}
