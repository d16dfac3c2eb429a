-- record_note.lua: write the fairness record's notes of one flush (record.go): the first ETA
-- range shown at each position (first wins: a slot already written is left alone) and the
-- positions let in through the returning lane.
-- KEYS[1] first ETAs (string, 12 bytes per position at offset (position-1)*12)
-- KEYS[2] returned (bitmap, bit per position)
-- ARGV[1] TTL ms  ARGV[2] n, the number of ETA notes  ARGV[3..2+2n] position, 12-byte note
-- ARGV[3+2n..] returned positions
-- reply: {ETA notes written, returned marks sent}
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local wrote = 0
for i = 0, n - 1 do
  local pos = tonumber(ARGV[3 + 2 * i])
  local off = (pos - 1) * 12
  local cur = redis.call('GETRANGE', KEYS[1], off, off + 11)
  if not string.find(cur, '[^%z]') then
    redis.call('SETRANGE', KEYS[1], off, ARGV[4 + 2 * i])
    wrote = wrote + 1
  end
end
local marks = 0
for i = 3 + 2 * n, #ARGV do
  redis.call('SETBIT', KEYS[2], tonumber(ARGV[i]), 1)
  marks = marks + 1
end
if wrote > 0 or redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if marks > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {wrote, marks}
