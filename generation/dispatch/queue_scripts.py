"""The Lua scripts a waiting call runs: queue and wait (ACQUIRE), give up (LEAVE), and the process's HEARTBEAT.
They share the library of generation.dispatch.scripts (keys, the pass over the queue, the timer)."""

from __future__ import annotations

from generation.dispatch.scripts import LIBRARY

# ARGV[4..]: ticket, tenant, lane, tokens, allowed members (comma list), max_share ('' = none), tenant weight.
# Returns {1, member, probe} when granted, else {0, own timer (µs, -1 = none), earliest slot for this ticket (µs)}.
ACQUIRE = (
    LIBRARY
    + r"""
local t = ARGV[4]
sweep()
local g = read_grant(t)
if g then
  redis.call('DEL', tkey(t)); redis.call('ZREM', P .. ':leases', t)
  return {1, g[1], tonumber(g[2])}
end
-- Timer or requeue messages left unread are obsolete: this call runs the queue and re-arms the timer itself.
redis.call('DEL', wkey(t))
local h = ticket(t)
if h and h.g then redis.call('DEL', tkey(t)); h = nil end  -- an earlier, claimed use of the same ticket id
if h == nil then
  local tenant, lane = ARGV[5], ARGV[6]
  local lf = P .. ':lf:' .. lane
  local vt = tonumber(redis.call('HGET', P .. ':vt', lane)) or 0
  local last = tonumber(redis.call('HGET', lf, tenant)) or 0
  local S = math.max(vt, last)
  local F = S + 1 / tonumber(ARGV[10])
  redis.call('HSET', lf, tenant, num(F))
  redis.call('PEXPIRE', lf, 86400000)
  local qm = string.format('%015d', redis.call('INCR', P .. ':seq')) .. ':' .. t
  redis.call('HSET', tkey(t), 'tenant', tenant, 'lane', lane, 'tokens', ARGV[7], 'allowed', ARGV[8],
             'cap', ARGV[9], 'S', num(S), 'F', num(F), 'qm', qm)
  redis.call('ZADD', lane_queue(lane), F, qm)
  waiting_add(tenant, lane, 1)
end
redis.call('ZADD', P .. ':leases', now + LEASE, t)
local mine, next_at, mine_at = pass(t)
if mine then arm(next_at, nil); return {1, mine[1], tonumber(mine[2])} end
return {0, arm(next_at, t), (mine_at or next_at or now) - now}
"""
)

# ARGV[4]: ticket. The waiter gives up (timeout, cancelled): a grant that arrived meanwhile is returned (the caller
# uses or releases it), else the ticket leaves the queue. Returns {1, member, probe} or {0, -1, 0}.
LEAVE = (
    LIBRARY
    + r"""
local t = ARGV[4]
sweep()
local g = read_grant(t)
local h = ticket(t)
if g then
  if h then redis.call('DEL', tkey(t)) end
  redis.call('ZREM', P .. ':leases', t)
  return {1, g[1], tonumber(g[2])}
end
if h and h.g == nil then drop_waiting(t, h) end
redis.call('DEL', wkey(t))
if queue_length() > 0 and timer_lost() then local _, next_at = pass(nil); arm(next_at, nil) end
return {0, -1, 0}
"""
)

# ARGV[4..]: the process's waiting tickets. Renews their leases; runs a pass when the timer is lost or a dead
# waiter's ticket or grant was just taken back. Returns the number of tickets renewed.
HEARTBEAT = (
    LIBRARY
    + r"""
local renewed = 0
for i = 4, #ARGV do
  if redis.call('ZADD', P .. ':leases', 'XX', 'CH', now + LEASE, ARGV[i]) == 1 then renewed = renewed + 1
  else
    -- Its lease ended while the waiter lives (a stall longer than the lease): wake it to queue again.
    redis.call('LPUSH', wkey(ARGV[i]), 'r|0'); redis.call('PEXPIRE', wkey(ARGV[i]), math.ceil(2 * LEASE / 1000))
  end
end
local freed = sweep()
if queue_length() > 0 and (freed or timer_lost()) then local _, next_at = pass(nil); arm(next_at, nil) end
return renewed
"""
)
