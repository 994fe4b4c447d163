'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer, sleep } = require('../../support/ferrodis');
const { OtpService } = require('../otp');

let server;
let redis;
test.before(async () => {
  server = await startServer();
  redis = new Redis(server.url);
});
test.after(async () => {
  await redis.quit();
  await server.stop();
  server.cleanup();
});

test('a code is valid once and for its TTL only, stored with the default 5-minute TTL', async () => {
  const otp = new OtpService(redis);
  const { code } = await otp.issue('alice');
  assert.match(code, /^\d{6}$/);
  const ttl = await redis.ttl('otp:code:alice');
  assert.ok(ttl > 290 && ttl <= 300, `TTL ${ttl}`);
  assert.deepEqual(await otp.verify('alice', code), { ok: true });
  // Single use: the same code a second time is gone.
  assert.deepEqual(await otp.verify('alice', code), { ok: false, reason: 'expired' });
  assert.equal(await redis.exists('otp:code:alice'), 0);
});

test('a code expires after its TTL', async () => {
  const otp = new OtpService(redis, { codeTtl: 1 });
  const { code } = await otp.issue('bob');
  assert.ok((await redis.pttl('otp:code:bob')) > 0);
  await sleep(1300);
  assert.deepEqual(await otp.verify('bob', code), { ok: false, reason: 'expired' });
});

test('a new code replaces the previous one', async () => {
  const otp = new OtpService(redis);
  const first = await otp.issue('carol');
  let second = await otp.issue('carol');
  while (second.code === first.code) second = await otp.issue('carol');
  assert.equal((await otp.verify('carol', first.code)).reason, 'invalid');
  assert.deepEqual(await otp.verify('carol', second.code), { ok: true });
});

test('of concurrent requests with the right code exactly one succeeds (GETDEL)', async () => {
  const otp = new OtpService(redis);
  const clients = Array.from({ length: 8 }, () => new Redis(server.url));
  try {
    for (let round = 0; round < 10; round++) {
      const { code } = await otp.issue('dave');
      const results = await Promise.all(clients.map((c) => new OtpService(c).verify('dave', code)));
      assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
    }
  } finally {
    await Promise.all(clients.map((c) => c.quit()));
  }
});

test('wrong attempts are counted and lock the user out', async () => {
  const otp = new OtpService(redis, { maxAttempts: 3, attemptWindow: 60, lockTtl: 2 });
  const { code } = await otp.issue('erin');
  assert.deepEqual(await otp.verify('erin', 'nope-1'), { ok: false, reason: 'invalid', attemptsLeft: 2 });
  // The attempts counter expires with its window (EXPIRE NX: set at the first failure only).
  const ttl = await redis.ttl('otp:tries:erin');
  assert.ok(ttl > 55 && ttl <= 60, `tries TTL ${ttl}`);
  assert.deepEqual(await otp.verify('erin', 'nope-2'), { ok: false, reason: 'invalid', attemptsLeft: 1 });
  assert.equal(await redis.get('otp:tries:erin'), '2');
  assert.deepEqual(await otp.verify('erin', 'nope-3'), { ok: false, reason: 'locked' });
  // Locked: even the right code fails, and no new code is issued.
  assert.deepEqual(await otp.verify('erin', code), { ok: false, reason: 'locked' });
  assert.deepEqual(await otp.issue('erin'), { ok: false, reason: 'locked' });
  assert.equal(await redis.exists('otp:code:erin'), 0);
  const lockTtl = await redis.pttl('otp:lock:erin');
  assert.ok(lockTtl > 0 && lockTtl <= 2000, `lock PTTL ${lockTtl}`);
  // The lockout ends by itself.
  await sleep(lockTtl + 100);
  const fresh = await otp.issue('erin');
  assert.equal(fresh.ok, true);
  assert.deepEqual(await otp.verify('erin', fresh.code), { ok: true });
});

test('the attempts window expires: old failures are forgotten', async () => {
  const otp = new OtpService(redis, { maxAttempts: 2, attemptWindow: 1 });
  const { code } = await otp.issue('frank');
  assert.equal((await otp.verify('frank', 'bad')).reason, 'invalid');
  await sleep(1300);
  assert.equal(await redis.exists('otp:tries:frank'), 0);
  assert.equal((await otp.verify('frank', 'bad')).reason, 'invalid');
  assert.deepEqual(await otp.verify('frank', code), { ok: true });
});
