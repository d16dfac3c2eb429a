-- retire.lua: a deleted room's keys expire at the end of its closing period (issue 15): each
-- key living longer is given that deadline; keys expiring sooner keep theirs. Every engine runs
-- it after it stopped stepping the room, so a step sent before (which refreshes the room's
-- TTL) cannot outlive it. The outcome ledger and the audit list keep their own TTLs.
-- KEYS[1..] the room's keys  ARGV[1] deadline, unix ms
-- reply: how many keys were shortened
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl == -1 or (ttl > 0 and now + ttl > deadline) then
    if deadline <= now then
      redis.call('DEL', KEYS[i])
    else
      redis.call('PEXPIREAT', KEYS[i], deadline)
    end
    n = n + 1
  end
end
return n
