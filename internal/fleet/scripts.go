package fleet

import "github.com/redis/go-redis/v9"

// The scripts run atomically in Redis; go-redis sends them by EVALSHA and
// loads them once when Redis does not know them yet (after a restart).

// leaseScript is one round of the lease protocol for one instance: it
// records the instance as alive, drops instances not seen for the lease
// TTL with everything they held, records what the calling instance holds
// and wants of each limit and returns its new share of each.
//
// KEYS[1] the instance set (sorted by last contact, ms), KEYS[2] the
// configuration hash, KEYS[3...] one hash per limit with the fields
// h:<id> (held), w:<id> (wanted) and t:<id> (last report, ms), and the
// field burst (ops/s: the burst lowered shares gave up, kept for the
// shares that grow). ARGV[1] the instance's id, ARGV[2] the lease TTL in
// ms, then six per limit: the limit, what the instance holds (the least
// it must keep), what it wants, the floor of every live instance's target
// (0, or for bytes/s a small part of the limit, so that no transfer is
// paced at next to nothing), the burst it has (ops/s, else 0) and the
// burst its lowered shares gave up since its last round (ops/s, else 0).
//
// The target shares are the max-min fair division of the limit by the
// wants of the live instances (no one gets more than it wants while
// another wants more than it gets); what nobody wants is spread evenly.
// A share is granted only out of what the other instances do not hold,
// so the recorded holdings never sum to more than the limit; a lowered
// share stays recorded at what the instance held until its next round,
// when it reports what it still has in use.
//
// Burst moves with the shares: what an instance gave up joins the kept
// burst (never more than the limit) in the same call that records its
// lowered holding, and an instance whose share grows takes from it up to
// its new share less the burst it has. Whatever it does not take stays
// for the next. So the shares recorded plus the burst kept never exceed
// the limit, and neither does the burst of the instances plus the kept.
//
// It returns the configuration's ETag ("" when none), the number of
// live instances, then for each limit the share, whether the instances
// want more than the limit (1) or not (0) and the burst passed on.
var leaseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 10)
local out = {redis.call('HGET', KEYS[2], 'etag') or '', redis.call('ZCARD', KEYS[1])}
for i = 3, #KEYS do
  local k = KEYS[i]
  local a = 3 + (i - 3) * 6
  local limit, held, want, floor = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local avail, handed = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  redis.call('HSET', k, 'h:' .. id, held, 'w:' .. id, want, 't:' .. id, now)
  local all = redis.call('HGETALL', k)
  local inst = {}
  local kept = 0
  for x = 1, #all, 2 do
    local f = all[x]
    if f == 'burst' then
      kept = tonumber(all[x + 1])
    else
      local who = string.sub(f, 3)
      local e = inst[who]
      if not e then e = {h = 0, w = 0, t = 0}; inst[who] = e end
      e[string.sub(f, 1, 1)] = tonumber(all[x + 1])
    end
  end
  local others = 0
  local wants = {}
  for who, e in pairs(inst) do
    if e.t < now - ttl then
      redis.call('HDEL', k, 'h:' .. who, 'w:' .. who, 't:' .. who)
    else
      if who ~= id then others = others + e.h end
      wants[#wants + 1] = {who, e.w}
    end
  end
  table.sort(wants, function(x, y) if x[2] ~= y[2] then return x[2] < y[2] end return x[1] < y[1] end)
  local n = #wants
  floor = math.min(floor, math.floor(limit / n))
  local remaining = limit - floor * n
  local alloc = {}
  for q = 1, n do
    local fair = math.floor(remaining / (n - q + 1))
    local g = math.min(math.max(wants[q][2] - floor, 0), fair)
    alloc[wants[q][1]] = g
    remaining = remaining - g
  end
  local ids = {}
  for q = 1, n do ids[q] = wants[q][1] end
  table.sort(ids)
  local base = math.floor(remaining / n)
  local extra = remaining - base * n
  for q = 1, n do
    local add = base + floor
    if q <= extra then add = add + 1 end
    alloc[ids[q]] = alloc[ids[q]] + add
  end
  local grant = math.max(math.min(alloc[id], limit - others), 0)
  local wanted = 0
  for q = 1, n do wanted = wanted + wants[q][2] end
  if grant < held then
    redis.call('HSET', k, 'h:' .. id, held)
  else
    redis.call('HSET', k, 'h:' .. id, grant)
  end
  local burst = 0
  if handed > 0 or kept > 0 then
    kept = math.min(kept + handed, limit)
    if grant > held then
      burst = math.max(math.min(kept, grant - avail), 0)
      kept = kept - burst
    end
    redis.call('HSET', k, 'burst', kept)
  end
  redis.call('PEXPIRE', k, ttl * 10)
  out[#out + 1] = grant
  if wanted >= limit then out[#out + 1] = 1 else out[#out + 1] = 0 end
  out[#out + 1] = burst
end
return out
`)

// releaseScript gives back everything an instance holds (a clean
// shutdown). KEYS[1] the instance set, KEYS[2...] limit hashes; ARGV[1]
// the instance's id.
var releaseScript = redis.NewScript(`
local id = ARGV[1]
redis.call('ZREM', KEYS[1], id)
for i = 2, #KEYS do
  redis.call('HDEL', KEYS[i], 'h:' .. id, 'w:' .. id, 't:' .. id)
end
return 1
`)

// storeScript replaces the configuration document if the current one is
// the expected one, and announces it. KEYS[1] the configuration hash
// (fields doc, etag). ARGV[1] the document, ARGV[2] its ETag, ARGV[3] the
// expected current ETag: "" = any, "!absent" = only if there is none;
// ARGV[4] the channel. It returns {1, etag} when stored, {0, current}
// when not.
var storeScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'etag')
if ARGV[3] == '!absent' then
  if cur then return {0, cur} end
elseif ARGV[3] ~= '' and cur ~= ARGV[3] then
  return {0, cur or ''}
end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'etag', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return {1, ARGV[2]}
`)
