"""The Lua library of the pool dispatcher's scripts: every decision is one atomic script on the Redis server.

Keys, built inside the scripts (one Redis instance's keys, not a cluster's). A member's keys are under
`<key_prefix>:m:<member>` (a deployment in several pools has one window, one breaker, one learned rate), the rest
under `<key_prefix>:<pool_key>` (ARGV[1]):
  m:<member>:log    sliding log of grants (score: Redis-clock µs; member "<ticket>:<tokens>"), as the old
                    single-deployment limiter kept
  m:<member>:st     hash: eff (learned rpm), quiet (µs since which no 429 / lowering header), hold (no grant
                    before, µs: retry-after), br / fails / opened / probe_at (breaker), tat (pacing: the next slot)
  m:<member>:err    server errors in the burst window;  m:<member>:calls / :lat  stats of the last minute
  q:<lane>          waiting tickets, score = WFQ virtual finish tag, member "<seq>:<ticket>" (FIFO on ties)
  t:<ticket>        a waiting (or granted, not yet claimed) ticket;  leases  ticket -> lease end (µs)
  w:<ticket>        the ticket's wake-up list: "g|<member>|<probe>" (granted) or "k|<µs>" (be the timer)
  waiting, lw:<lane>  tenant -> waiting tickets (all lanes, one lane);  active  tenant -> its last grant (share caps)
  vt                lane -> virtual time;  lf:<lane>  tenant -> last finish tag
  w:<ticket> also carries "r|0": the ticket's lease ended while its waiter lives, queue it again
  tn:<tenant>       the tenant's grants in the window (max_share);  gt:<ticket>  the tenant of a granted ticket
  keeper            the one waiting ticket whose BLPOP times out when the next slot frees ("timer")
ARGV[1] the pool's prefix, ARGV[2] pool config (JSON: w window µs, l lease µs, cd cooldown µs, mp members' prefix,
pc pacing 1/0, m enabled members [{k, r, t, p, wt}]), ARGV[3] a random number in [0, 1) for the weighted choice;
script arguments follow.
"""

from __future__ import annotations

LIBRARY = r"""
local P = ARGV[1]
local cfg = cjson.decode(ARGV[2])
local seed = math.floor(tonumber(ARGV[3]) * 2147483645) + 1
local W, LEASE, COOL, PACE = cfg.w, cfg.l, cfg.cd, cfg.pc == 1
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function rand() seed = (seed * 16807) % 2147483647; return seed / 2147483647 end
local function num(x) return string.format('%.17g', x) end
local function tkey(t) return P .. ':t:' .. t end
local function wkey(t) return P .. ':w:' .. t end
local function mkey(k, s) return cfg.mp .. ':' .. k .. ':' .. s end  -- a member's keys are the platform's
local LANES = {'interactive', 'bulk'}

local function limit(v) local l = math.floor(v.eff); if l < 1 then l = 1 end; return l end

-- Pacing: a member's grants on a schedule window / rate apart (µs), not the whole window's worth at once. Azure
-- evaluates RPM over 1 or 10 second periods, so a burst within the minute is refused even under the quota; and a
-- saturated window that was filled in one burst frees its slots in the same burst a window later, so a call that
-- arrives in between (an interactive one) waits for the next clump instead of the next slot.
local function spacing(v) return W / limit(v) end
-- A grant late on its slot (the timer's BLPOP wakes up to ~100 ms late; a worker's bookkeeping) may be followed by
-- the next one on schedule, not a whole spacing after the late one: lateness up to this much is caught up, or at
-- rates where the spacing is short (a scaled benchmark's 180 RPM: 0.33 s) it would cost a tenth of the quota.
-- More lateness than that is idleness, not owed: the schedule starts again (no burst after a quiet spell).
local function credit(v) return math.min(spacing(v) / 2, 250000) end

local function load_member(m)
  local sk = mkey(m.k, 'st')
  local s = redis.call('HMGET', sk, 'eff', 'quiet', 'hold', 'br', 'opened', 'probe_at', 'tat')
  local eff = tonumber(s[1]) or m.r
  if eff > m.r then eff = m.r end
  -- Learned quota climbs back one step per quiet window (no 429 nor lowering header in it).
  local quiet = tonumber(s[2]) or 0
  if eff < m.r and now - quiet >= W then
    eff = math.min(m.r, eff + math.max(1, math.ceil(m.r / 10)))
    redis.call('HSET', sk, 'eff', eff, 'quiet', now)
  end
  local lk = mkey(m.k, 'log')
  redis.call('ZREMRANGEBYSCORE', lk, '-inf', now - W)
  local e = redis.call('ZRANGE', lk, 0, -1, 'WITHSCORES')
  local v = {k = m.k, m = m, eff = eff, count = #e / 2, used = 0, toks = {}, stamps = {}, br = s[4] or 'closed',
             probe = false, taken = false, blocked = nil, tat = tonumber(s[7])}
  for i = 1, #e, 2 do
    local tk = tonumber(string.match(e[i], ':(%d+)$')) or 0
    v.used = v.used + tk
    v.toks[#v.toks + 1] = tk
    v.stamps[#v.stamps + 1] = tonumber(e[i + 1])
  end
  local hold = tonumber(s[3]) or 0
  if hold > now then v.blocked = hold end
  if v.br == 'open' then
    local until_ = (tonumber(s[5]) or 0) + COOL
    if now >= until_ then v.probe = true else v.blocked = math.max(v.blocked or 0, until_) end
  elseif v.br == 'half_open' then
    -- One probe at a time; a probe never reported (its worker died) frees the place after a cooldown.
    local pa = tonumber(s[6])
    if pa and now < pa + COOL then v.blocked = math.max(v.blocked or 0, pa + COOL) else v.probe = true end
  end
  return v
end

local function admitted(v, tokens)
  -- A request estimated above the whole TPM is sent alone into an empty window.
  if v.m.t > 0 and tokens > v.m.t then return v.m.t end
  return tokens
end

local function has_room(v, tk)
  if v.blocked or v.taken then return false end
  if v.count + 1 > limit(v) then return false end
  if v.m.t > 0 and v.used + tk > v.m.t then return false end
  if PACE and v.tat and now < v.tat then return false end
  return true
end

-- µs (Redis clock) when a request of tk tokens could fit v: the oldest entries leave first.
local function ready_at(v, tk)
  local need_r, need_t = v.count + 1 - limit(v), 0
  if v.m.t > 0 then need_t = v.used + tk - v.m.t end
  local fr, ft, at, i = 0, 0, now, 1
  while (fr < need_r or ft < need_t) and i <= #v.stamps do
    fr = fr + 1; ft = ft + v.toks[i]; at = v.stamps[i] + W; i = i + 1
  end
  if PACE and v.tat and v.tat > at then at = v.tat end
  if v.blocked and v.blocked > at then at = v.blocked end
  return at
end

-- A ticket id used again (a retry under the same request id) while its earlier grant is still in the window:
-- that grant was sent and still counts, under a name restamp and release no longer reach.
local function keep_earlier(key, t, suffix)
  local score = redis.call('ZSCORE', key, t .. suffix)
  if score then
    redis.call('ZREM', key, t .. suffix)
    redis.call('ZADD', key, score, t .. '~' .. redis.call('INCR', P .. ':seq') .. suffix)
  end
end

local function lane_queue(lane) return P .. ':q:' .. lane end

local function waiting_add(tenant, lane, n)
  local left = redis.call('HINCRBY', P .. ':waiting', tenant, n)
  if left <= 0 then redis.call('HDEL', P .. ':waiting', tenant) end
  -- A tenant with nothing left waiting in a lane starts again from the lane's virtual time (WFQ's idle flow):
  -- tickets it gave up (timeouts, a cancelled campaign) must not push its next ones behind everyone.
  local lw = P .. ':lw:' .. lane
  if redis.call('HINCRBY', lw, tenant, n) <= 0 then
    redis.call('HDEL', lw, tenant)
    redis.call('HDEL', P .. ':lf:' .. lane, tenant)
  end
end

-- A waiting ticket leaves without a grant: give its virtual time back if nothing of its tenant came after it.
local function drop_waiting(t, h)
  redis.call('ZREM', lane_queue(h.lane), h.qm)
  waiting_add(h.tenant, h.lane, -1)
  local lf = P .. ':lf:' .. h.lane
  if redis.call('HGET', lf, h.tenant) == h.F then redis.call('HSET', lf, h.tenant, h.S) end
  redis.call('DEL', tkey(t))
  redis.call('ZREM', P .. ':leases', t)
end

local function ticket(t)
  local raw = redis.call('HGETALL', tkey(t))
  if #raw == 0 then return nil end
  local h = {}
  for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
  return h
end

-- A grant whose wake-up message is still unread when its lease ends went to a dead waiter: take it back.
local function unclaim(t, h)
  local msgs = redis.call('LRANGE', wkey(t), 0, -1)
  for _, msg in ipairs(msgs) do
    if string.sub(msg, 1, 2) == 'g|' then
      redis.call('DEL', wkey(t))
      local k = h.g
      redis.call('ZREM', mkey(k, 'log'), t .. ':' .. h.gtk)
      redis.call('ZREM', P .. ':tn:' .. h.tenant, t)
      if h.gprobe == '1' then redis.call('HDEL', mkey(k, 'st'), 'probe_at') end
      return true
    end
  end
  return false
end

local function sweep()
  local freed = false
  for _, t in ipairs(redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', now)) do
    local h = ticket(t)
    if h == nil then redis.call('ZREM', P .. ':leases', t)
    elseif h.g then
      if unclaim(t, h) then freed = true end
      redis.call('DEL', tkey(t)); redis.call('ZREM', P .. ':leases', t)
    else drop_waiting(t, h); freed = true end
  end
  return freed
end

local function queue_length()
  return redis.call('ZCARD', lane_queue('interactive')) + redis.call('ZCARD', lane_queue('bulk'))
end

-- Serve waiting tickets in order (interactive lane first, WFQ finish tag inside a lane): each takes a member
-- it may use that has room now; a later ticket only gets what no earlier one could use. Returns the caller's
-- grant (if the caller was served), the next moment (µs) something could change, and the caller's own.
local function pass(caller)
  local views, byk = {}, {}
  for _, m in ipairs(cfg.m) do local v = load_member(m); views[#views + 1] = v; byk[m.k] = v end
  local total = 0
  for _, v in ipairs(views) do if v.br == 'closed' then total = total + limit(v) end end
  local waiting_raw = redis.call('HGETALL', P .. ':waiting')
  local waiting = {}
  for i = 1, #waiting_raw, 2 do waiting[waiting_raw[i]] = tonumber(waiting_raw[i + 1]) end
  local tenants_cache, active = {}, nil
  local function tenant_log(tn)
    if tenants_cache[tn] == nil then
      local k = P .. ':tn:' .. tn
      redis.call('ZREMRANGEBYSCORE', k, '-inf', now - W)
      local e = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      local st = {}
      for i = 2, #e, 2 do st[#st + 1] = tonumber(e[i]) end
      tenants_cache[tn] = st
    end
    return tenants_cache[tn]
  end
  local function any_room()
    for _, v in ipairs(views) do if has_room(v, 0) then return true end end
    return false
  end
  local next_at, mine, mine_at = nil, nil, nil
  local function later(at) if next_at == nil or at < next_at then next_at = at end end
  for _, lane in ipairs(LANES) do
    if not any_room() then break end
    local vt = tonumber(redis.call('HGET', P .. ':vt', lane)) or 0
    for _, qm in ipairs(redis.call('ZRANGE', lane_queue(lane), 0, -1)) do
      if not any_room() then break end
      local t = string.match(qm, '^%d+:(.*)$')
      local h = ticket(t)
      local capped = false
      if h == nil or h.g then redis.call('ZREM', lane_queue(lane), qm); capped = true
      elseif h.cap ~= '' then
        -- A share cap binds while another tenant waits or was served in the window (they share the pool);
        -- a tenant alone uses it all.
        local others = false
        for tn, n in pairs(waiting) do if tn ~= h.tenant and n > 0 then others = true end end
        if not others then
          if active == nil then
            redis.call('ZREMRANGEBYSCORE', P .. ':active', '-inf', now - W)
            active = redis.call('ZRANGE', P .. ':active', 0, -1)
          end
          for _, tn in ipairs(active) do if tn ~= h.tenant then others = true end end
        end
        if others then
          local cap = math.max(1, math.floor(tonumber(h.cap) * total))
          local st = tenant_log(h.tenant)
          if #st >= cap then capped = true; later(st[#st - cap + 1] + W) end
        end
      end
      if not capped then
        local tokens = tonumber(h.tokens)
        local best, cands, weights, sum = nil, {}, {}, 0
        for k in string.gmatch(h.allowed, '[^,]+') do
          local v = byk[k]
          if v then
            local tk = admitted(v, tokens)
            if has_room(v, tk) then
              if best == nil or v.m.p < best then best = v.m.p; cands = {}; weights = {}; sum = 0 end
              if v.m.p == best then
                local wgt = v.m.wt * (limit(v) - v.count)
                cands[#cands + 1] = v; weights[#weights + 1] = wgt; sum = sum + wgt
              end
            elseif t == caller then
              local at = ready_at(v, tk)
              if mine_at == nil or at < mine_at then mine_at = at end
              later(at)
            else later(ready_at(v, tk)) end
          end
        end
        if #cands > 0 then
          local r, pick = rand() * sum, cands[#cands]
          for i, v in ipairs(cands) do r = r - weights[i]; if r < 0 then pick = v; break end end
          local tk = admitted(pick, tokens)
          local lk = mkey(pick.k, 'log')
          local tn = P .. ':tn:' .. h.tenant
          keep_earlier(lk, t, ':' .. tk)
          keep_earlier(tn, t, '')
          redis.call('ZADD', lk, now, t .. ':' .. tk)
          redis.call('PEXPIRE', lk, math.ceil(W / 1000))
          redis.call('ZADD', tn, now, t)
          redis.call('PEXPIRE', tn, math.ceil(W / 1000))
          redis.call('SET', P .. ':gt:' .. t, h.tenant, 'PX', math.ceil(W / 1000) + math.ceil(LEASE / 1000))
          if tenants_cache[h.tenant] then table.insert(tenants_cache[h.tenant], now) end
          redis.call('ZADD', P .. ':active', now, h.tenant)
          redis.call('PEXPIRE', P .. ':active', math.ceil(W / 1000))
          if active then table.insert(active, h.tenant) end
          pick.count = pick.count + 1; pick.used = pick.used + tk
          pick.toks[#pick.toks + 1] = tk; pick.stamps[#pick.stamps + 1] = now
          if PACE then
            -- The member's next slot (its theoretical arrival time): one spacing after this slot's, or after now.
            if pick.tat and pick.tat >= now - credit(pick) then pick.tat = pick.tat + spacing(pick)
            else pick.tat = now + spacing(pick) end
            pick.tat = math.ceil(pick.tat)
            redis.call('HSET', mkey(pick.k, 'st'), 'tat', pick.tat)
          end
          local probe = '0'
          if pick.probe then
            probe = '1'; pick.taken = true
            redis.call('HSET', mkey(pick.k, 'st'), 'br', 'half_open', 'probe_at', now)
          end
          redis.call('ZREM', lane_queue(lane), qm)
          waiting_add(h.tenant, lane, -1)
          waiting[h.tenant] = (waiting[h.tenant] or 1) - 1
          if tonumber(h.S) > vt then vt = tonumber(h.S); redis.call('HSET', P .. ':vt', lane, h.S) end
          if t == caller then
            mine = {pick.k, probe}
            redis.call('DEL', tkey(t)); redis.call('ZREM', P .. ':leases', t)
          else
            -- Kept until its lease ends: if the waiter never reads the message, sweep() takes the grant back.
            redis.call('HSET', tkey(t), 'g', pick.k, 'gtk', tk, 'gprobe', probe)
            redis.call('ZADD', P .. ':leases', now + LEASE, t)
            redis.call('LPUSH', wkey(t), 'g|' .. pick.k .. '|' .. probe)
            redis.call('PEXPIRE', wkey(t), math.ceil(2 * LEASE / 1000))
          end
        end
      end
    end
  end
  -- Members without room free up by time alone: the timer must wake then.
  for _, v in ipairs(views) do if not has_room(v, 0) and not v.taken then later(ready_at(v, 0)) end end
  return mine, next_at, mine_at
end

local function is_waiting(t)
  if not t then return false end
  local h = ticket(t)
  return h ~= nil and h.g == nil
end

-- Exactly one waiting ticket is the timer: its BLPOP times out at next_at and it runs the next pass; the others
-- block until woken. Returns the caller's own timeout (µs) when the caller is (now) the timer, else -1.
local function arm(next_at, caller)
  local kk = P .. ':keeper'
  if queue_length() == 0 or next_at == nil then redis.call('DEL', kk); return -1 end
  local k = redis.call('HMGET', kk, 't', 'at')
  local kt, kat = k[1], tonumber(k[2])
  if kt and kat and kat > now and kat <= next_at + 1000 and is_waiting(kt) then
    if kt == caller then return kat - now end
    return -1
  end
  if caller and is_waiting(caller) then
    redis.call('HSET', kk, 't', caller, 'at', next_at)
    return next_at - now
  end
  local head = nil
  if kt and is_waiting(kt) then head = kt end
  for _, lane in ipairs(LANES) do
    if head == nil then
      local first = redis.call('ZRANGE', lane_queue(lane), 0, 0)
      if #first > 0 then head = string.match(first[1], '^%d+:(.*)$') end
    end
  end
  redis.call('HSET', kk, 't', head, 'at', next_at)
  redis.call('LPUSH', wkey(head), 'k|' .. (next_at - now))
  redis.call('PEXPIRE', wkey(head), math.ceil(2 * LEASE / 1000))
  return -1
end

-- The timer is missing, or late beyond any scheduling delay: its worker died or hangs.
local function timer_lost()
  local k = redis.call('HMGET', P .. ':keeper', 't', 'at')
  local kat = tonumber(k[2])
  return not (kat and kat > now - 250000 and is_waiting(k[1]))
end

local function read_grant(t)
  for _, msg in ipairs(redis.call('LRANGE', wkey(t), 0, -1)) do
    local k, probe = string.match(msg, '^g|(.*)|(%d)$')
    if k then redis.call('DEL', wkey(t)); return {k, probe} end
  end
  return nil
end
"""
