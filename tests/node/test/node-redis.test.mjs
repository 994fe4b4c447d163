// node-redis (package `redis`) against the server under test, once over RESP2 and once
// over RESP3: command families, MULTI/EXEC and WATCH, pub/sub, scripts, scan
// iterators, reconnect after CLIENT KILL, and RESP3-only features (typed replies,
// client-side caching through invalidation push messages).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, defineScript, WatchError } from 'redis';
import { HOST, PORT, until } from './helpers.mjs';

for (const RESP of [2, 3]) {
  describe(`node-redis RESP${RESP}`, () => {
    const DB = 2 + RESP;
    const opened = [];
    let c;
    const make = async (opts = {}) => {
      const cl = createClient({
        socket: { host: HOST, port: PORT, reconnectStrategy: () => 50 },
        database: DB,
        RESP,
        // XREADGROUP / XINFO replies over RESP3 are behind this flag in node-redis 5.
        ...(RESP === 3 ? { unstableResp3: true } : {}),
        ...opts,
      });
      cl.on('error', () => {}); // reconnects after CLIENT KILL report an error first
      await cl.connect();
      opened.push(cl);
      return cl;
    };
    const n = (name) => `node-redis RESP${RESP}: ${name}`;

    before(async () => {
      c = await make({
        scripts: {
          incrTwice: defineScript({
            NUMBER_OF_KEYS: 1,
            SCRIPT: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])",
            parseCommand(parser, key, by) {
              parser.pushKey(key);
              parser.push(String(by));
            },
            transformReply: (reply) => reply,
          }),
        },
      });
      await c.flushDb();
    });

    after(async () => {
      for (const cl of opened) {
        if (cl.isOpen) await cl.close();
      }
    });

    test(n('HELLO and CLIENT INFO report the protocol'), async () => {
      const info = await c.sendCommand(['CLIENT', 'INFO']);
      assert.match(String(info), new RegExp(`resp=${RESP}`));
      assert.match(String(info), new RegExp(`db=${DB}`));
      assert.equal(await c.ping(), 'PONG');
    });

    test(n('strings and keys'), async () => {
      assert.equal(await c.set('s:a', 'v', { EX: 100 }), 'OK');
      assert.equal(await c.get('s:a'), 'v');
      assert.ok((await c.ttl('s:a')) > 90);
      assert.equal(await c.set('s:a', 'w', { NX: true }), null);
      assert.equal(await c.incrBy('s:n', 5), 5);
      assert.equal(await c.incrByFloat('s:f', 1.25), '1.25');
      assert.deepEqual(await c.mGet(['s:a', 's:none']), ['v', null]);
      assert.equal(await c.exists(['s:a', 's:n', 's:none']), 2);
      assert.equal(await c.type('s:n'), 'string');
      assert.equal(await c.expire('s:n', 50), 1);
      assert.equal(await c.persist('s:n'), 1);
      assert.equal(await c.del(['s:a', 's:n']), 2);
      assert.equal(await c.getDel('s:f'), '1.25');
      await assert.rejects(c.sendCommand(['NOSUCHCMD']), /ERR unknown command 'NOSUCHCMD'/);
    });

    test(n('lists, hashes, sets'), async () => {
      assert.equal(await c.rPush('l', ['a', 'b', 'c']), 3);
      assert.deepEqual(await c.lRange('l', 0, -1), ['a', 'b', 'c']);
      assert.equal(await c.lPop('l'), 'a');
      assert.deepEqual(await c.blPop('l', 1), { key: 'l', element: 'b' });
      assert.equal(await c.hSet('h', { a: '1', b: '2' }), 2);
      assert.deepEqual({ ...(await c.hGetAll('h')) }, { a: '1', b: '2' });
      assert.deepEqual({ ...(await c.hGetAll('h:none')) }, {});
      assert.equal(await c.hIncrBy('h', 'a', 10), 11);
      assert.deepEqual(await c.hmGet('h', ['a', 'zz']), ['11', null]);
      assert.equal(await c.sAdd('set', ['x', 'y', 'z']), 3);
      assert.deepEqual([...(await c.sMembers('set'))].sort(), ['x', 'y', 'z']);
      assert.equal(await c.sIsMember('set', 'x'), 1);
      assert.deepEqual([...(await c.sInter(['set', 'set']))].sort(), ['x', 'y', 'z']);
      await assert.rejects(c.lPush('h', 'x'), /WRONGTYPE Operation against a key holding the wrong kind of value/);
    });

    test(n('sorted sets: scores as numbers'), async () => {
      assert.equal(await c.zAdd('z', [{ score: 1.5, value: 'a' }, { score: 2, value: 'b' }]), 2);
      assert.equal(await c.zScore('z', 'a'), 1.5);
      // node-redis's RESP3 double parser may be off in the last bit: compare closely.
      const near = (a, b) => assert.ok(Math.abs(a - b) < 1e-9, `${a} is not ${b}`);
      near(await c.zIncrBy('z', 0.25, 'a'), 1.75);
      const withScores = await c.zRangeWithScores('z', 0, -1);
      assert.deepEqual(withScores.map((e) => e.value), ['a', 'b']);
      near(withScores[0].score, 1.75);
      near(withScores[1].score, 2);
      assert.deepEqual(await c.zPopMax('z'), { value: 'b', score: 2 });
      const ms = await c.zmScore('z', ['a', 'none']);
      near(ms[0], 1.75);
      assert.equal(ms[1], null);
      await c.zAdd('z', [{ score: Infinity, value: 'inf' }]);
      // RESP3 sends a double; over RESP2 node-redis turns the string "inf" into NaN.
      if (RESP === 3) assert.equal(await c.zScore('z', 'inf'), Infinity);
      else assert.equal(await c.sendCommand(['ZSCORE', 'z', 'inf']), 'inf');
      assert.equal(await c.zRank('z', 'inf'), 1);
    });

    test(n('streams, geo, HyperLogLog, bitmaps'), async () => {
      assert.equal(await c.xAdd('x', '1-1', { f: 'v' }), '1-1');
      assert.equal(await c.xAdd('x', '1-2', { f: 'w' }), '1-2');
      const range = (await c.xRange('x', '-', '+')).map((e) => ({ id: e.id, message: { ...e.message } }));
      assert.deepEqual(range, [
        { id: '1-1', message: { f: 'v' } },
        { id: '1-2', message: { f: 'w' } },
      ]);
      await c.xGroupCreate('x', 'g', '0');
      const read = await c.xReadGroup('g', 'c1', { key: 'x', id: '>' }, { COUNT: 1 });
      // RESP3 (unstable in node-redis): the raw map { x: [[id, [field, value]]] }.
      const messages = RESP === 3 ? read.x.map(([id, fields]) => ({ id, fields })) : read[0].messages;
      assert.deepEqual(messages.map((m) => m.id), ['1-1']);
      assert.equal(await c.xAck('x', 'g', '1-1'), 1);
      const info = await c.xInfoStream('x');
      assert.equal(info.length, 2);
      assert.equal(info.groups, 1);
      assert.equal(await c.geoAdd('geo', { longitude: 13.361389, latitude: 38.115556, member: 'Palermo' }), 1);
      await c.geoAdd('geo', { longitude: 15.087269, latitude: 37.502669, member: 'Catania' });
      assert.equal(await c.geoDist('geo', 'Palermo', 'Catania', 'km'), 166.2742);
      assert.deepEqual(await c.geoSearch('geo', { longitude: 15, latitude: 37 }, { radius: 100, unit: 'km' }), ['Catania']);
      assert.equal(await c.pfAdd('hll', ['a', 'b', 'c']), 1);
      assert.equal(await c.pfCount('hll'), 3);
      assert.equal(await c.setBit('bits', 100, 1), 0);
      assert.equal(await c.bitCount('bits'), 1);
      assert.equal(await c.bitPos('bits', 1), 100);
    });

    test(n('MULTI/EXEC, WATCH, pipelines'), async () => {
      assert.deepEqual(await c.multi().set('m', '1').incr('m').get('m').exec(), ['OK', 2, '2']);
      const other = await make();
      await other.watch('m');
      await c.set('m', 'changed');
      await assert.rejects(other.multi().set('m', 'mine').exec(), WatchError);
      assert.equal(await c.get('m'), 'changed');
      const replies = await c.multi().set('p:a', '1').incr('p:a').execAsPipeline();
      assert.deepEqual(replies, ['OK', 2]);
      const many = await Promise.all(Array.from({ length: 500 }, (_, i) => c.set(`auto:${i}`, String(i))));
      assert.equal(many.length, 500);
      assert.equal(await c.get('auto:499'), '499');
      await assert.rejects(c.multi().set('m', 'x').addCommand(['NOSUCHCMD']).exec(), /ERR unknown command 'NOSUCHCMD'/);
      assert.equal(await c.get('m'), 'changed'); // EXECABORT: nothing ran
    });

    test(n('pub/sub'), async () => {
      const sub = c.duplicate();
      sub.on('error', () => {});
      await sub.connect();
      opened.push(sub);
      const got = [];
      await sub.subscribe('chan', (message, channel) => got.push([channel, message]));
      await sub.pSubscribe('pat:*', (message, channel) => got.push([channel, message]));
      assert.equal(await c.publish('chan', 'one'), 1);
      assert.equal(await c.publish('pat:x', 'two'), 1);
      await until(() => got.length === 2, 3000, 'messages');
      assert.deepEqual(got, [['chan', 'one'], ['pat:x', 'two']]);
      assert.deepEqual({ ...(await c.pubSubNumSub(['chan'])) }, { chan: 1 });
      await sub.unsubscribe('chan');
      await sub.pUnsubscribe('pat:*');
      assert.equal(await c.publish('chan', 'none'), 0);
    });

    test(n('Lua scripts and functions'), async () => {
      assert.equal(await c.incrTwice('lua:k', 3), 6);
      assert.equal(await c.scriptFlush(), 'OK');
      assert.equal(await c.incrTwice('lua:k', 1), 8); // NOSCRIPT, then EVAL
      assert.equal(await c.eval('return ARGV[1]', { arguments: ['x'] }), 'x');
      assert.deepEqual(await c.eval('return {1, 2, {3}}', {}), [1, 2, [3]]);
      await c.functionLoad("#!lua name=nrlib\nredis.register_function('plus1', function(keys, args) return args[1] + 1 end)", { REPLACE: true });
      assert.equal(await c.fCall('plus1', { arguments: ['41'] }), 42);
    });

    test(n('scan iterators'), async () => {
      for (let i = 0; i < 200; i++) await c.set(`it:${i}`, String(i));
      await c.hSet('it:h', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, String(i)])));
      await c.sAdd('it:s', Array.from({ length: 200 }, (_, i) => `m${i}`));
      await c.zAdd('it:z', Array.from({ length: 200 }, (_, i) => ({ score: i, value: `m${i}` })));
      const keys = new Set();
      for await (const batch of c.scanIterator({ MATCH: 'it:[0-9]*', COUNT: 30 })) batch.forEach((k) => keys.add(k));
      assert.equal(keys.size, 200);
      const fields = new Set();
      for await (const batch of c.hScanIterator('it:h', { COUNT: 25 })) batch.forEach((e) => fields.add(e.field));
      assert.equal(fields.size, 200);
      const members = new Set();
      for await (const batch of c.sScanIterator('it:s')) batch.forEach((m) => members.add(m));
      assert.equal(members.size, 200);
      let total = 0;
      for await (const batch of c.zScanIterator('it:z', { COUNT: 50 })) {
        for (const e of batch) total += Number(e.score);
      }
      assert.equal(total, (199 * 200) / 2);
    });

    test(n('reconnects after CLIENT KILL'), async () => {
      const cl = await make();
      await cl.set('rc', 'still here');
      const id = await cl.clientId();
      let reconnecting = 0;
      cl.on('reconnecting', () => reconnecting++);
      assert.equal(await c.clientKill({ filter: 'ID', id }), 1);
      await until(() => reconnecting > 0 && cl.isReady, 5000, 'the reconnect');
      assert.equal(await cl.get('rc'), 'still here'); // same database again
      assert.notEqual(await cl.clientId(), id);
    });

    if (RESP === 3) {
      test(n('typed replies: maps, sets, doubles, null'), async () => {
        await c.hSet('t:h', { a: '1' });
        // Raw RESP3 replies, no transformation by the command module.
        assert.deepEqual({ ...(await c.sendCommand(['HGETALL', 't:h'])) }, { a: '1' });
        assert.equal(await c.sendCommand(['ZINCRBY', 't:z', '2.5', 'm']), 2.5);
        assert.equal(await c.sendCommand(['GET', 't:none']), null);
        const hello = await c.sendCommand(['HELLO', '3']);
        assert.equal(hello.proto, 3);
        assert.equal(hello.server, 'redis');
        assert.equal(hello.mode, 'standalone');
        const cfg = await c.sendCommand(['CONFIG', 'GET', 'maxmemory-policy']);
        assert.deepEqual({ ...cfg }, { 'maxmemory-policy': 'noeviction' });
      });

      test(n('client-side caching invalidated by push messages'), async () => {
        const cached = await make({ clientSideCache: { ttl: 0, maxEntries: 0 } });
        await c.set('csc:k', 'v1');
        assert.equal(await cached.get('csc:k'), 'v1');
        assert.equal(await cached.get('csc:k'), 'v1');
        const stats = cached.clientSideCache.stats();
        assert.equal(stats.hitCount, 1);
        await c.set('csc:k', 'v2'); // invalidation push to `cached`
        await until(async () => (await cached.get('csc:k')) === 'v2', 3000, 'the invalidation');
        assert.match(String(await cached.sendCommand(['CLIENT', 'INFO'])), /flags=t/);
      });
    }
  });
}
