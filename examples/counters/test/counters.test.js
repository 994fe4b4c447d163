'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { startServer } = require('../../support/ferrodis');
const { connect, totals, like } = require('../counters');

const WORKERS = 4;
const VIEWS = 2000; // per worker
const LIKES = 300; // per worker

function runWorker(url, n) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(__dirname, '..', 'worker.js'), url, String(n), String(VIEWS), String(LIKES)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${n} exited with ${code}`))));
  });
}

test('counters incremented from several processes at once are exact', async (t) => {
  const server = await startServer();
  t.after(async () => {
    await server.stop();
    server.cleanup();
  });
  const redis = connect(server.url);
  t.after(() => redis.quit());

  await Promise.all(Array.from({ length: WORKERS }, (_, n) => runWorker(server.url, n)));

  const pages = ['/', '/pricing', '/docs', '/blog'];
  const got = await totals(redis, pages);
  const perPage = (WORKERS * VIEWS) / pages.length;
  for (const p of pages) {
    assert.equal(got.views[p], perPage, `views of ${p}`);
    assert.equal(Number(got.daily[p]), perPage, `daily views of ${p}`);
  }
  // The leaderboard has each page once, with the same total.
  assert.equal(got.top.length, pages.length * 2);
  for (let i = 0; i < got.top.length; i += 2) assert.equal(Number(got.top[i + 1]), perPage);
  // Post 1 was liked by the same LIKES users from every worker: counted once each.
  assert.equal(Number(got.likes['1']), LIKES);
  assert.equal(await redis.scard('post:1:likers'), LIKES);
  // Post 2 was liked by LIKES different users per worker.
  assert.equal(Number(got.likes['2']), WORKERS * LIKES);
  // A repeated like changes nothing.
  assert.equal(await like(redis, 1, 'user0'), null);
  assert.equal(Number(await redis.hget('likes', '1')), LIKES);
});
