'use strict';
// Brute-force protection for a login route with rate-limiter-flexible, as in its docs'
// "login endpoint protection" example: failed logins are counted per IP and per
// username+IP; too many block the IP for 10 minutes. Successful logins reset the
// username+IP counter.
const { RateLimiterRedis } = require('rate-limiter-flexible');

const DEFAULTS = {
  maxFailsByIp: 10, // failed logins from one IP...
  failWindowByIp: 15 * 60, // ...within 15 minutes...
  blockByIp: 10 * 60, // ...block that IP for 10 minutes
  maxConsecutiveFailsByUserIp: 5, // wrong passwords for one user from one IP in a row
  blockByUserIp: 10 * 60,
};

function createLoginLimiter(redis, options = {}) {
  const opt = { ...DEFAULTS, ...options };
  const byIp = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: 'login_fail_ip',
    points: opt.maxFailsByIp,
    duration: opt.failWindowByIp,
    blockDuration: opt.blockByIp,
  });
  const byUserIp = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: 'login_fail_consecutive_username_and_ip',
    points: opt.maxConsecutiveFailsByUserIp,
    duration: 60 * 60 * 24 * 90, // kept until a successful login
    blockDuration: opt.blockByUserIp,
  });

  // check(): how long the caller must wait before trying (0: may try now).
  async function retryAfterSecs(ip, username) {
    const [resUserIp, resIp] = await Promise.all([byUserIp.get(`${username}_${ip}`), byIp.get(ip)]);
    if (resIp !== null && resIp.consumedPoints > opt.maxFailsByIp) {
      return Math.round(resIp.msBeforeNext / 1000) || 1;
    }
    if (resUserIp !== null && resUserIp.consumedPoints > opt.maxConsecutiveFailsByUserIp) {
      return Math.round(resUserIp.msBeforeNext / 1000) || 1;
    }
    return 0;
  }

  // A failed attempt: resolves with 0, or with the block in seconds once it starts.
  async function failed(ip, username, userExists) {
    try {
      const consumes = [byIp.consume(ip)];
      if (userExists) consumes.push(byUserIp.consume(`${username}_${ip}`));
      await Promise.all(consumes);
      return 0;
    } catch (rejected) {
      if (rejected instanceof Error) throw rejected; // Redis error, not a rate limit
      return Math.round(rejected.msBeforeNext / 1000) || 1;
    }
  }

  async function succeeded(ip, username) {
    await byUserIp.delete(`${username}_${ip}`);
  }

  return { retryAfterSecs, failed, succeeded, byIp, byUserIp };
}

module.exports = { createLoginLimiter, DEFAULTS };
