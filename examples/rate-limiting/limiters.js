'use strict';
// Three rate limiters on Redis.

// Fixed window: one counter per client and window, INCR + EXPIRE NX in one MULTI. The
// counter's TTL is the time left in the window. Cheap (one key), but a client can send
// up to 2x the limit around a window boundary.
async function fixedWindow(redis, id, limit, windowSecs) {
  const key = `rl:fixed:${id}`;
  const [[, count], , [, pttl]] = await redis
    .multi()
    .incr(key)
    .expire(key, windowSecs, 'NX')
    .pttl(key)
    .exec();
  return { allowed: count <= limit, remaining: Math.max(0, limit - count), resetMs: pttl };
}

// Sliding window log: a sorted set of request timestamps per client. A Lua script drops
// entries older than the window, counts the rest, and records this request only if it
// is allowed: exact, atomic, one round trip.
const SLIDING_WINDOW_LUA = `
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}`;

let seq = 0;
function defineSlidingWindow(redis) {
  if (!redis.slidingWindow) {
    redis.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
  }
}

async function slidingWindow(redis, id, limit, windowMs, now = Date.now()) {
  defineSlidingWindow(redis);
  const member = `${now}-${process.pid}-${seq++}`;
  const [allowed, remaining, retryMs] = await redis.slidingWindow(`rl:sliding:${id}`, now, windowMs, limit, member);
  return { allowed: allowed === 1, remaining, retryMs };
}

module.exports = { fixedWindow, slidingWindow, SLIDING_WINDOW_LUA };
