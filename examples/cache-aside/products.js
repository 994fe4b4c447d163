'use strict';
// Cache-aside (lazy loading) in front of PostgreSQL.
//
//   read:  GET product:<id> from Redis; on a hit return it. On a miss read the row from
//          PostgreSQL and SET it with a TTL, so a hot record is served from memory until
//          it expires or changes.
//   write: UPDATE in PostgreSQL first, then DEL the cached copy; the next read loads the
//          new row. (Deleting instead of writing the new value avoids racing writers
//          leaving an old value in the cache.)
//   a missing id is cached too, as "null" with a short TTL, so that repeated requests
//   for it do not reach the database.
class ProductCache {
  constructor({ redis, db, ttl = 300, missingTtl = 30 }) {
    this.redis = redis;
    this.db = db; // a pg Client or Pool
    this.ttl = ttl;
    this.missingTtl = missingTtl;
    this.stats = { hits: 0, misses: 0, dbReads: 0 };
  }

  async get(id) {
    const key = `product:${id}`;
    const cached = await this.redis.get(key);
    if (cached !== null) {
      this.stats.hits++;
      return JSON.parse(cached);
    }
    this.stats.misses++;
    this.stats.dbReads++;
    const { rows } = await this.db.query('SELECT id, name, price_cents FROM products WHERE id = $1', [id]);
    const product = rows[0] || null;
    await this.redis.set(key, JSON.stringify(product), 'EX', product ? this.ttl : this.missingTtl);
    return product;
  }

  async updatePrice(id, priceCents) {
    await this.db.query('UPDATE products SET price_cents = $2 WHERE id = $1', [id, priceCents]);
    await this.redis.del(`product:${id}`);
  }
}

async function createSchema(db, count) {
  await db.query('CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL)');
  await db.query(
    `INSERT INTO products SELECT i, 'product ' || i, 100 + i FROM generate_series(1, $1) AS i ON CONFLICT DO NOTHING`,
    [count],
  );
}

module.exports = { ProductCache, createSchema };
