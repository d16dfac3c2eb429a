-- record_read.lua: one page of the outcome ledger, oldest admission first, with each
-- admission's first ETA note and returned mark, for the public fairness record (record.go).
-- KEYS[1] ledger  KEYS[2] ledger index  KEYS[3] first ETAs  KEYS[4] returned
-- ARGV[1] start (0-based rank in the index)  ARGV[2] count
-- reply: {now ms, records in the index, id, JSON, 12-byte note ("" if none), returned 0|1, id, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[2], start, start + tonumber(ARGV[2]) - 1)
local out = {now, redis.call('ZCARD', KEYS[2])}
for _, j in ipairs(ids) do
  local d = redis.call('HGET', KEYS[1], j)
  if d then
    local pos = tonumber(string.match(d, '"p":(%d+)')) or 0
    local note, ret = '', 0
    if pos > 0 then
      note = redis.call('GETRANGE', KEYS[3], (pos - 1) * 12, (pos - 1) * 12 + 11)
      ret = redis.call('GETBIT', KEYS[4], pos)
    end
    out[#out + 1] = j
    out[#out + 1] = d
    out[#out + 1] = note
    out[#out + 1] = ret
  end
end
return out
