-- lib/room.lua: helpers shared by the scripts that read a room's rules and pace. scripts.go
-- prepends this file to step.lua and claim.lua when it loads them, so there is one copy of
-- each rule.
--
-- setting(v, name): a setting read from the meta hash. create.lua and restore.lua write every
-- setting, so a missing one means a corrupt room: an error, never a silent default that could
-- disagree with queue.DefaultSettings.
local function setting(v, name)
  local n = tonumber(v)
  if not n then
    error('foyer: room setting ' .. name .. ' missing')
  end
  return n
end

-- accrue returns the pace's credit at now: rate admissions per minute since last, capped at
-- one second's worth (at least 1), so a replica that stepped late does not admit a burst.
local function accrue(credit, last, now, rate)
  if now <= last then
    return credit
  end
  return math.min(math.max(1, rate / 60), credit + (now - last) * rate / 60000)
end

