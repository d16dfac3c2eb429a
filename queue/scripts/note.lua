-- note.lua: record an organiser's audit entry that changes no settings (a room created at
-- runtime, issue 15), in the format update.lua writes: Redis's time in µs, a space, the entry.
-- KEYS[1] the room's audit list
-- ARGV[1] audit entry (opaque)  ARGV[2] audit bound (entries kept)
-- reply: the list's length
local t = redis.call('TIME')
redis.call('LPUSH', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])) .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return redis.call('LLEN', KEYS[1])
