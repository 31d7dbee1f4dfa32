"""The Lua scripts for what happens after a grant: outcomes (breaker, learned quota, stats), restamp, release,
and the admin snapshot. They share the pass of generation.dispatch.scripts, so a freed slot or a closed breaker
serves the waiting tickets at once."""

from __future__ import annotations

from generation.dispatch.scripts import LIBRARY

# ARGV[4..]: member, outcome, latency ms (-1), probe (0/1), retry-after µs (-1), x-ratelimit-limit-requests (-1),
# x-ratelimit-remaining-requests (-1), unique id, configured rpm, breaker_failures, breaker_server_errors,
# burst µs. Returns {changed (0/1), old, new, reason}: the transition is decided here, so exactly one caller sees it.
RECORD_OUTCOME = (
    LIBRARY
    + r"""
local k, outcome, latency, probe = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1'
local retry, lim, remaining, uid, rpm = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11],
  tonumber(ARGV[12])
local max_fails, max_errors, burst = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local sk = mkey(k, 'st')
-- Stats: the last minute's outcomes (bounded by the calls a minute) and the last 200 latencies.
local ck = mkey(k, 'calls')
redis.call('ZADD', ck, now, uid .. ':' .. (outcome == 'throttled' and '1' or '0'))
redis.call('ZREMRANGEBYSCORE', ck, '-inf', now - 60000000)
redis.call('PEXPIRE', ck, 120000)
if latency >= 0 then
  local lk = mkey(k, 'lat')
  redis.call('LPUSH', lk, latency); redis.call('LTRIM', lk, 0, 199); redis.call('PEXPIRE', lk, 3600000)
end
-- Learned quota: only ever lowered here (load_member climbs it back), never above the configured rpm.
local s = redis.call('HMGET', sk, 'eff', 'br', 'fails', 'hold')
local eff = tonumber(s[1]) or rpm
if eff > rpm then eff = rpm end
local lowered = eff
if outcome == 'throttled' then
  lowered = math.max(1, math.floor(eff * 0.8))
  if retry < 0 then retry = math.floor(W / lowered) end
  redis.call('HSET', sk, 'hold', math.max(tonumber(s[4]) or 0, now + retry))
end
if lim >= 1 and lim < lowered then lowered = lim end
if remaining >= 0 then
  local lk = mkey(k, 'log')
  redis.call('ZREMRANGEBYSCORE', lk, '-inf', now - W)
  local seen = redis.call('ZCARD', lk) + remaining
  if seen < lowered then lowered = math.max(1, seen) end
end
if lowered < eff or outcome == 'throttled' then redis.call('HSET', sk, 'eff', lowered, 'quiet', now) end
-- Breaker. UNKNOWN proves nothing either way; a 429 is an answer: the deployment is up.
local br, fails = s[2] or 'closed', tonumber(s[3]) or 0
local answered = outcome == 'success' or outcome == 'throttled'
local failed = outcome == 'pre_generation' or outcome == 'server_error'
local new, reason = nil, ''
if probe and br == 'half_open' then
  if answered then new = 'closed'; reason = 'probe answered (' .. outcome .. ')'
  elseif failed then new = 'open'; reason = 'probe failed (' .. outcome .. ')'
  else redis.call('HDEL', sk, 'probe_at') end
elseif br == 'closed' then
  if outcome == 'pre_generation' then
    fails = fails + 1
    redis.call('HSET', sk, 'fails', fails)
    if fails >= max_fails then new = 'open'; reason = fails .. ' consecutive pre-generation failures' end
  elseif outcome == 'server_error' then
    local ek = mkey(k, 'err')
    redis.call('ZADD', ek, now, uid)
    redis.call('ZREMRANGEBYSCORE', ek, '-inf', now - burst)
    redis.call('PEXPIRE', ek, math.ceil(burst / 1000))
    local n = redis.call('ZCARD', ek)
    if n >= max_errors then new = 'open'; reason = n .. ' server errors within ' .. (burst / 1000000) .. 's' end
  elseif answered and fails > 0 then redis.call('HSET', sk, 'fails', 0) end
end
if new == 'open' then
  redis.call('HSET', sk, 'br', 'open', 'opened', now, 'fails', 0)
  redis.call('HDEL', sk, 'probe_at')
  redis.call('DEL', mkey(k, 'err'))
elseif new == 'closed' then
  redis.call('HSET', sk, 'br', 'closed', 'fails', 0)
  redis.call('HDEL', sk, 'probe_at', 'opened')
end
if queue_length() > 0 then local _, next_at = pass(nil); arm(next_at, nil) end
if new then return {1, br, new, reason} end
return {0, '', '', ''}
"""
)

# ARGV[4..]: member, ticket, admitted tokens, probe (0/1). The granted call was not sent: its entries leave the
# windows (and a probe's place is free again), and the freed slot goes to the next waiting ticket at once.
RELEASE = (
    LIBRARY
    + r"""
local k, t, tk, probe = ARGV[4], ARGV[5], ARGV[6], ARGV[7] == '1'
local removed = redis.call('ZREM', mkey(k, 'log'), t .. ':' .. tk)
local tenant = redis.call('GET', P .. ':gt:' .. t)
if tenant then redis.call('ZREM', P .. ':tn:' .. tenant, t); redis.call('DEL', P .. ':gt:' .. t) end
if probe then
  local sk = mkey(k, 'st')
  if redis.call('HGET', sk, 'br') == 'half_open' then redis.call('HDEL', sk, 'probe_at') end
end
if queue_length() > 0 then local _, next_at = pass(nil); arm(next_at, nil) end
return removed
"""
)

# ARGV[4..]: member, ticket, admitted tokens. As the old single-deployment limiter's restamp (the call leaves now:
# its window starts now), for the member's log and the tenant's share log. Returns the new stamp (µs) or 0 when
# already gone.
RESTAMP = (
    LIBRARY
    + r"""
local k, t, tk = ARGV[4], ARGV[5], ARGV[6]
local lk = mkey(k, 'log')
-- Gone from the window even if no script trimmed it yet (a later acquire would): the grant is spent.
local score = tonumber(redis.call('ZSCORE', lk, t .. ':' .. tk))
if not score or score <= now - W then return 0 end
redis.call('ZADD', lk, 'XX', now, t .. ':' .. tk)
redis.call('PEXPIRE', lk, math.ceil(W / 1000))
local tenant = redis.call('GET', P .. ':gt:' .. t)
if tenant then
  local tn = P .. ':tn:' .. tenant
  redis.call('ZADD', tn, 'XX', now, t)
  redis.call('PEXPIRE', tn, math.ceil(W / 1000))
  redis.call('PEXPIRE', P .. ':gt:' .. t, math.ceil(W / 1000))
end
return now
"""
)

# ARGV[4..]: every member's key and configured rpm, alternating. Read-only except for the window trims.
# Returns per member {eff, requests in window, breaker, fails, opened µs (0), calls, throttled, latencies...}.
SNAPSHOT = (
    LIBRARY
    + r"""
local out = {}
for i = 4, #ARGV, 2 do
  local k, rpm = ARGV[i], tonumber(ARGV[i + 1])
  local s = redis.call('HMGET', mkey(k, 'st'), 'eff', 'quiet', 'br', 'fails', 'opened')
  local eff = tonumber(s[1]) or rpm
  if eff > rpm then eff = rpm end
  if eff < rpm and now - (tonumber(s[2]) or 0) >= W then eff = math.min(rpm, eff + math.max(1, math.ceil(rpm / 10))) end
  local lk = mkey(k, 'log')
  redis.call('ZREMRANGEBYSCORE', lk, '-inf', now - W)
  local ck = mkey(k, 'calls')
  redis.call('ZREMRANGEBYSCORE', ck, '-inf', now - 60000000)
  local throttled = 0
  for _, c in ipairs(redis.call('ZRANGE', ck, 0, -1)) do
    if string.sub(c, -2) == ':1' then throttled = throttled + 1 end
  end
  out[#out + 1] = {math.max(1, math.floor(eff)), redis.call('ZCARD', lk), s[3] or 'closed', tonumber(s[4]) or 0,
                   tonumber(s[5]) or 0, redis.call('ZCARD', ck), throttled, redis.call('LRANGE', mkey(k, 'lat'), 0, -1)}
end
return out
"""
)
