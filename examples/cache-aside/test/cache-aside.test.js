'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { Client } = require('pg');
const { startServer, sleep } = require('../../support/ferrodis');
const { startPostgres } = require('../postgres');
const { ProductCache, createSchema } = require('../products');

let server;
let pgServer;
let redis;
let db; // the application's connection
let admin; // reads PostgreSQL's own statistics
test.before(async () => {
  [server, pgServer] = await Promise.all([startServer(), startPostgres()]);
  redis = new Redis(server.url);
  db = new Client({ connectionString: pgServer.url });
  admin = new Client({ connectionString: pgServer.url });
  await Promise.all([db.connect(), admin.connect()]);
  await createSchema(db, 1000);
});
test.after(async () => {
  await Promise.all([db.end(), admin.end(), redis.quit()]);
  await server.stop();
  server.cleanup();
  await pgServer.stop();
});

// Index scans of the products table as counted by PostgreSQL (pg_stat_user_tables): one
// per primary-key lookup. The application's backend flushes its statistics first.
async function pgReads() {
  await db.query('SELECT pg_stat_force_next_flush()');
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await admin.query("SELECT idx_scan FROM pg_stat_user_tables WHERE relname = 'products'");
  return Number(rows[0].idx_scan);
}

const HOT = Array.from({ length: 20 }, (_, i) => i * 37 + 1); // 20 popular products

test('hits come from the cache, misses read PostgreSQL once and store with a TTL', async () => {
  await redis.flushall();
  const cache = new ProductCache({ redis, db, ttl: 4 });
  const before = await pgReads();

  // First round: every product is a miss and is read from the database.
  for (const id of HOT) assert.deepEqual(await cache.get(id), { id, name: `product ${id}`, price_cents: 100 + id });
  assert.deepEqual(cache.stats, { hits: 0, misses: 20, dbReads: 20 });
  assert.equal(await pgReads(), before + 20);
  // ...and is now cached with the TTL.
  let longest = 0;
  for (const id of HOT) {
    const pttl = await redis.pttl(`product:${id}`);
    assert.ok(pttl > 0 && pttl <= 4000, `PTTL ${pttl}`);
    longest = Math.max(longest, pttl);
  }
  const expiresAt = Date.now() + longest;

  // Four more rounds: 80 requests, all hits; the database is not read again.
  for (let round = 0; round < 4; round++) {
    for (const id of HOT) assert.equal((await cache.get(id)).id, id);
  }
  assert.deepEqual(cache.stats, { hits: 80, misses: 20, dbReads: 20 });
  assert.equal(await pgReads(), before + 20, 'the database read count did not move');

  // After the TTL the records expire and the next reads go to the database again.
  await sleep(expiresAt - Date.now() + 100);
  assert.equal(await redis.exists(`product:${HOT[0]}`), 0);
  for (const id of HOT) await cache.get(id);
  assert.deepEqual(cache.stats, { hits: 80, misses: 40, dbReads: 40 });
  assert.equal(await pgReads(), before + 40);
});

test('without the cache every request reads the database: 100 reads instead of 20', async () => {
  const before = await pgReads();
  for (let round = 0; round < 5; round++) {
    for (const id of HOT) await db.query('SELECT id, name, price_cents FROM products WHERE id = $1', [id]);
  }
  assert.equal(await pgReads(), before + 100);
});

test('an update invalidates the cached record', async () => {
  const cache = new ProductCache({ redis, db, ttl: 300 });
  assert.equal((await cache.get(42)).price_cents, 142);
  assert.equal((await cache.get(42)).price_cents, 142); // hit
  await cache.updatePrice(42, 999);
  assert.equal(await redis.exists('product:42'), 0);
  assert.equal((await cache.get(42)).price_cents, 999); // miss, fresh from the database
  assert.equal((await cache.get(42)).price_cents, 999); // hit again
  assert.deepEqual(cache.stats, { hits: 2, misses: 2, dbReads: 2 });
});

test('a missing record is cached briefly, so repeated lookups do not reach the database', async () => {
  const cache = new ProductCache({ redis, db, missingTtl: 30 });
  const before = await pgReads();
  for (let i = 0; i < 10; i++) assert.equal(await cache.get(123456), null);
  assert.deepEqual(cache.stats, { hits: 9, misses: 1, dbReads: 1 });
  assert.equal(await pgReads(), before + 1);
  const ttl = await redis.ttl('product:123456');
  assert.ok(ttl > 25 && ttl <= 30, `TTL ${ttl}`);
});
