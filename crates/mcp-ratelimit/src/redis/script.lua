-- One atomic check of every limit of a stage, on Redis time.
-- KEYS[i]: the key of limit i.
-- ARGV[1]: cost. Then three values per limit:
--   "w", requests, window in microseconds                 (sliding window: a sorted set of admissions)
--   "b", interval in microseconds (may be fractional), burst   (GCRA: the theoretical arrival time)
-- Returns {1, 0, 0, remaining} when every limit admits (all are charged), or
-- {0, i, wait_us, 0} naming the limit with the longest wait (none is charged).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local worst_i, worst_wait, remaining = 0, 0, -1
local new_tat = {}
for i = 1, #KEYS do
  local kind, p1, p2 = ARGV[i * 3 - 1], tonumber(ARGV[i * 3]), tonumber(ARGV[i * 3 + 1])
  local key = KEYS[i]
  local wait, left = 0, 0
  if kind == 'w' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - p2)
    local count = redis.call('ZCARD', key)
    if count + cost <= p1 then
      left = p1 - count - cost
    else
      local idx = count + cost - p1 - 1
      local leaving = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')
      wait = tonumber(leaving[2]) + p2 - now
      if wait < 1 then wait = 1 end
    end
  else
    local tat = tonumber(redis.call('GET', key)) or now
    if tat < now then tat = now end
    local nt = tat + cost * p1
    local tau = p1 * p2
    if nt - now <= tau then
      new_tat[i] = nt
      left = math.floor((tau - (nt - now)) / p1)
    else
      wait = nt - tau - now
    end
  end
  if wait > 0 then
    if wait > worst_wait then worst_i, worst_wait = i, wait end
  elseif remaining < 0 or left < remaining then
    remaining = left
  end
end
if worst_i > 0 then
  return {0, worst_i, math.ceil(worst_wait), 0}
end
for i = 1, #KEYS do
  local key = KEYS[i]
  if ARGV[i * 3 - 1] == 'w' then
    local window = tonumber(ARGV[i * 3 + 1])
    local same = redis.call('ZCOUNT', key, now, now)
    local stamp = string.format('%.0f', now)
    for j = 0, cost - 1 do
      redis.call('ZADD', key, now, stamp .. ':' .. (same + j))
    end
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
  else
    local ttl = math.ceil((new_tat[i] - now) / 1000) + 1
    redis.call('SET', key, string.format('%.17g', new_tat[i]), 'PX', ttl)
  end
end
return {1, 0, 0, remaining}
