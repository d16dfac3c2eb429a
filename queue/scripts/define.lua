-- define.lua: record a runtime room's definition in the registry and announce it (issue 15).
-- The room's meta was created just before by create.lua; a definition left over from a room
-- whose keys expired is replaced.
-- KEYS[1] registry definitions hash  KEYS[2] deleted rooms hash  KEYS[3] registry version
-- ARGV[1] room name  ARGV[2] definition (opaque)  ARGV[3] announcement channel
-- reply: the registry version after the change
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return v
