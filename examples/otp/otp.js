'use strict';
// One-time passwords (e-mail / SMS login codes) kept in Redis.
//
//   otp:code:<user>      the current code, SET ... EX <codeTtl>: expires on its own
//   otp:tries:<user>     wrong attempts, INCR + EXPIRE ... NX (window starts at the first)
//   otp:lock:<user>      present while the user is locked out, SET ... EX <lockTtl>
//
// A code is single use: a correct code is taken with GETDEL, so of two requests racing
// with the same code exactly one succeeds.
const crypto = require('node:crypto');

const DEFAULTS = {
  codeTtl: 300, // a code is valid for 5 minutes
  maxAttempts: 5, // wrong codes allowed per window...
  attemptWindow: 900, // ...of 15 minutes
  lockTtl: 900, // then the user is locked out for 15 minutes
};

class OtpService {
  constructor(redis, options = {}) {
    this.redis = redis;
    this.opt = { ...DEFAULTS, ...options };
  }

  // Creates a new 6-digit code (replacing any previous one) unless the user is locked.
  async issue(user) {
    if (await this.redis.exists(`otp:lock:${user}`)) return { ok: false, reason: 'locked' };
    const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
    await this.redis.set(`otp:code:${user}`, code, 'EX', this.opt.codeTtl);
    return { ok: true, code }; // a real app sends it by e-mail or SMS instead
  }

  // Checks a code: { ok: true } once per code, else { ok: false, reason }.
  async verify(user, code) {
    const { redis, opt } = this;
    if (await redis.exists(`otp:lock:${user}`)) return { ok: false, reason: 'locked' };
    const stored = await redis.get(`otp:code:${user}`);
    if (stored === null) return { ok: false, reason: 'expired' };
    if (stored !== code) {
      // Count the failure; the counter's window starts at the first failure (NX).
      const [[, tries]] = await redis
        .multi()
        .incr(`otp:tries:${user}`)
        .expire(`otp:tries:${user}`, opt.attemptWindow, 'NX')
        .exec();
      if (tries >= opt.maxAttempts) {
        // Lock out, and burn the code so that guessing on cannot succeed.
        await redis
          .multi()
          .set(`otp:lock:${user}`, '1', 'EX', opt.lockTtl)
          .del(`otp:code:${user}`, `otp:tries:${user}`)
          .exec();
        return { ok: false, reason: 'locked' };
      }
      return { ok: false, reason: 'invalid', attemptsLeft: opt.maxAttempts - tries };
    }
    // Correct: consume it. If another request consumed it first, GETDEL returns null.
    const taken = await redis.getdel(`otp:code:${user}`);
    if (taken !== code) return { ok: false, reason: 'expired' };
    await redis.del(`otp:tries:${user}`);
    return { ok: true };
  }
}

module.exports = { OtpService, DEFAULTS };
