-- mark.lua: mark positions as seen (polled) in one epoch's liveness bitmap. One call per room
-- per flush, however many polls it covers.
-- KEYS[1] seen bitmap of the epoch
-- ARGV[1] TTL ms (two epochs and a margin)  ARGV[2..] positions
-- reply: number of positions marked
for i = 2, #ARGV do
  redis.call('SETBIT', KEYS[1], ARGV[i], 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
