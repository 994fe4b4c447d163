'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer, sleep } = require('../../support/ferrodis');
const { fixedWindow, slidingWindow } = require('../limiters');
const { createApp } = require('../app');

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

// Starts the Express app on a free port; returns a request helper.
async function startApp(t, options) {
  const http = createApp(redis, options).listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  t.after(() => new Promise((r) => http.close(r)));
  const base = `http://127.0.0.1:${http.address().port}`;
  return (path, { ip = '203.0.113.7', body } = {}) =>
    fetch(base + path, {
      method: body ? 'POST' : 'GET',
      headers: { 'X-Forwarded-For': ip, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
}

test('fixed window: INCR + EXPIRE allows `limit` requests per window, then resets', async () => {
  const results = [];
  for (let i = 0; i < 7; i++) results.push(await fixedWindow(redis, 'client-a', 5, 3));
  assert.deepEqual(results.map((r) => r.allowed), [true, true, true, true, true, false, false]);
  assert.deepEqual(results.map((r) => r.remaining), [4, 3, 2, 1, 0, 0, 0]);
  // The window's TTL was set by the first request only (EXPIRE NX).
  assert.ok(results[6].resetMs > 0 && results[6].resetMs <= results[0].resetMs);
  assert.equal(await redis.get('rl:fixed:client-a'), '7');
  // When the window's TTL has run out, a new window starts.
  await sleep(results[6].resetMs + 100);
  assert.equal(await redis.exists('rl:fixed:client-a'), 0);
  assert.equal((await fixedWindow(redis, 'client-a', 5, 3)).allowed, true);
  // Other clients have their own counter.
  assert.equal((await fixedWindow(redis, 'client-b', 5, 3)).remaining, 4);
});

test('fixed window is exact under concurrency', async () => {
  const results = await Promise.all(Array.from({ length: 100 }, () => fixedWindow(redis, 'burst', 30, 60)));
  assert.equal(results.filter((r) => r.allowed).length, 30);
});

test('sliding window (sorted set + Lua) counts the last windowMs exactly', async () => {
  const t0 = Date.now();
  const at = (ms) => slidingWindow(redis, 'client-s', 3, 1000, t0 + ms);
  assert.equal((await at(0)).allowed, true);
  assert.equal((await at(100)).allowed, true);
  assert.equal((await at(900)).allowed, true);
  const denied = await at(950);
  assert.equal(denied.allowed, false);
  assert.equal(denied.retryMs, 50); // the first request leaves the window at t0+1000
  assert.equal((await at(1001)).allowed, true); // t0 left the window
  assert.equal((await at(1050)).allowed, false); // 100, 900, 1001 are still in it
  assert.equal((await at(1101)).allowed, true);
  // Denied requests are not recorded; the set holds only allowed ones.
  assert.equal(await redis.zcard('rl:sliding:client-s'), 3);
  assert.ok((await redis.pttl('rl:sliding:client-s')) > 0);
});

test('sliding window is exact under concurrency', async () => {
  const now = Date.now();
  const results = await Promise.all(Array.from({ length: 60 }, () => slidingWindow(redis, 'burst-s', 20, 10_000, now)));
  assert.equal(results.filter((r) => r.allowed).length, 20);
});

test('HTTP: /api and /search answer 429 with Retry-After past their limits', async (t) => {
  const get = await startApp(t, { api: { limit: 3, window: 60 }, search: { limit: 2, windowMs: 10_000 } });
  const api = [];
  for (let i = 0; i < 4; i++) api.push((await get('/api', { ip: '198.51.100.1' })).status);
  assert.deepEqual(api, [200, 200, 200, 429]);
  assert.equal((await get('/api', { ip: '198.51.100.2' })).status, 200); // another IP
  const search = [];
  for (let i = 0; i < 3; i++) search.push(await get('/search', { ip: '198.51.100.1' }));
  assert.deepEqual(search.map((r) => r.status), [200, 200, 429]);
  const retry = Number(search[2].headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
});

test('login: too many failed logins block the IP for 10 minutes (rate-limiter-flexible)', async (t) => {
  const post = await startApp(t);
  const ip = '192.0.2.50';
  const login = (user, password) => post('/login', { ip, body: { user, password } });
  // 10 failures are answered 401 (unknown users, so only the per-IP limiter counts).
  for (let i = 0; i < 10; i++) assert.equal((await login(`nobody${i}`, 'x')).status, 401, `attempt ${i + 1}`);
  // The 11th failure starts the block.
  const blocked = await login('nobody', 'x');
  assert.equal(blocked.status, 429);
  assert.equal(Number(blocked.headers.get('retry-after')), 600);
  // The block is stored in Redis with a 10-minute TTL...
  const pttl = await redis.pttl(`login_fail_ip:${ip}`);
  assert.ok(pttl > 595_000 && pttl <= 600_000, `PTTL ${pttl}`);
  // ...and holds even for the right password, while other IPs can log in.
  const right = await login('alice', 'wonderland');
  assert.equal(right.status, 429);
  const wait = Number(right.headers.get('retry-after'));
  assert.ok(wait > 590 && wait <= 600, `Retry-After ${wait}`);
  assert.equal((await post('/login', { ip: '192.0.2.51', body: { user: 'alice', password: 'wonderland' } })).status, 200);
});

test('login: consecutive wrong passwords for one user block user+IP; success resets', async (t) => {
  const post = await startApp(t, { login: { maxConsecutiveFailsByUserIp: 3, blockByUserIp: 2 } });
  const ip = '192.0.2.60';
  const login = (password) => post('/login', { ip, body: { user: 'bob', password } });
  assert.equal((await login('wrong')).status, 401);
  assert.equal((await login('wrong')).status, 401);
  assert.equal((await login('builder')).status, 200); // resets the consecutive count
  assert.equal(await redis.exists(`login_fail_consecutive_username_and_ip:bob_${ip}`), 0);
  for (let i = 0; i < 3; i++) assert.equal((await login('wrong')).status, 401);
  const blocked = await login('wrong'); // 4th in a row: blocked (2 s here)
  assert.equal(blocked.status, 429);
  assert.equal(blocked.headers.get('retry-after'), '2');
  assert.equal((await login('builder')).status, 429);
  await sleep(2200); // the block ends by itself
  assert.equal((await login('builder')).status, 200);
});
