// ioredis against the server under test: every command family, pipelines, MULTI/EXEC,
// pub/sub, Lua via defineCommand, scanStream, reconnect after CLIENT KILL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { HOST, PORT, until, sleep } from './helpers.mjs';

const DB = 1;
let r;
const opened = [];
function client(opts = {}) {
  const c = new Redis({ host: HOST, port: PORT, db: DB, lazyConnect: false, maxRetriesPerRequest: 3, ...opts });
  opened.push(c);
  return c;
}

before(async () => {
  r = client();
  await r.flushdb();
});

after(async () => {
  for (const c of opened) c.disconnect();
});

test('ioredis: strings', async () => {
  assert.equal(await r.set('s:a', 'hello'), 'OK');
  assert.equal(await r.get('s:a'), 'hello');
  assert.equal(await r.append('s:a', ' world'), 11);
  assert.equal(await r.strlen('s:a'), 11);
  assert.equal(await r.getrange('s:a', 0, 4), 'hello');
  assert.equal(await r.setrange('s:a', 6, 'WORLD'), 11);
  assert.equal(await r.get('s:a'), 'hello WORLD');
  assert.equal(await r.set('s:a', 'x', 'NX'), null);
  assert.equal(await r.set('s:b', 'y', 'XX'), null);
  assert.equal(await r.set('s:a', 'new', 'GET'), 'hello WORLD');
  assert.equal(await r.incr('s:n'), 1);
  assert.equal(await r.incrby('s:n', 41), 42);
  assert.equal(await r.decrby('s:n', 2), 40);
  assert.equal(await r.incrbyfloat('s:f', '1.5'), '1.5');
  assert.equal(await r.incrbyfloat('s:f', '0.1'), '1.6');
  assert.equal(await r.mset('s:m1', '1', 's:m2', '2'), 'OK');
  assert.deepEqual(await r.mget('s:m1', 's:m2', 's:nope'), ['1', '2', null]);
  assert.equal(await r.msetnx('s:m1', 'z', 's:m3', '3'), 0);
  assert.equal(await r.setnx('s:m3', '3'), 1);
  assert.equal(await r.getdel('s:m3'), '3');
  assert.equal(await r.exists('s:m3'), 0);
  assert.equal(await r.getex('s:m1', 'EX', 100), '1');
  assert.ok((await r.ttl('s:m1')) > 90);
  await r.set('s:lcs1', 'ohmytext');
  await r.set('s:lcs2', 'mynewtext');
  assert.equal(await r.call('LCS', 's:lcs1', 's:lcs2'), 'mytext');
  await assert.rejects(r.incr('s:a'), /ERR value is not an integer or out of range/);
  const buf = Buffer.from([0, 255, 1, 254, 13, 10]);
  await r.set('s:bin', buf);
  assert.deepEqual(await r.getBuffer('s:bin'), buf);
});

test('ioredis: keys and TTL', async () => {
  await r.set('k:a', '1');
  assert.equal(await r.expire('k:a', 100), 1);
  const ttl = await r.ttl('k:a');
  assert.ok(ttl > 95 && ttl <= 100, `ttl ${ttl}`);
  const pttl = await r.pttl('k:a');
  assert.ok(pttl > 95000 && pttl <= 100000, `pttl ${pttl}`);
  assert.equal(await r.persist('k:a'), 1);
  assert.equal(await r.ttl('k:a'), -1);
  assert.equal(await r.ttl('k:none'), -2);
  await r.set('k:short', 'v', 'PX', 50);
  await sleep(120);
  assert.equal(await r.get('k:short'), null);
  assert.equal(await r.expireat('k:a', Math.floor(Date.now() / 1000) + 1000), 1);
  assert.ok((await r.call('EXPIRETIME', 'k:a')) > Date.now() / 1000);
  assert.equal(await r.type('k:a'), 'string');
  assert.equal(await r.rename('k:a', 'k:b'), 'OK');
  assert.equal(await r.exists('k:a', 'k:b'), 1);
  assert.equal(await r.renamenx('k:b', 'k:b2'), 1);
  assert.equal(await r.copy('k:b2', 'k:c'), 1);
  assert.equal(await r.get('k:c'), '1');
  assert.equal(await r.object('ENCODING', 'k:c'), 'int');
  assert.equal(await r.touch('k:c', 'k:zz'), 1);
  assert.equal(await r.unlink('k:c'), 1);
  assert.equal(await r.del('k:b2', 'k:none'), 1);
  await r.set('k:x1', 'a');
  await r.set('k:x2', 'b');
  assert.deepEqual((await r.keys('k:x*')).sort(), ['k:x1', 'k:x2']);
  assert.ok(['k:x1', 'k:x2'].includes(await r.randomkey()) || (await r.dbsize()) > 2);
  const dumped = await r.dumpBuffer('k:x1');
  assert.equal(await r.restore('k:x3', 0, dumped), 'OK');
  assert.equal(await r.get('k:x3'), 'a');
  await assert.rejects(r.restore('k:x3', 0, dumped), /BUSYKEY Target key name already exists/);
  assert.equal(await r.move('k:x3', 5), 1);
  assert.equal(await r.exists('k:x3'), 0);
  await r.select(5);
  assert.equal(await r.get('k:x3'), 'a');
  await r.del('k:x3');
  await r.select(DB);
});

test('ioredis: lists', async () => {
  assert.equal(await r.rpush('l:a', 'a', 'b', 'c'), 3);
  assert.equal(await r.lpush('l:a', 'z'), 4);
  assert.deepEqual(await r.lrange('l:a', 0, -1), ['z', 'a', 'b', 'c']);
  assert.equal(await r.llen('l:a'), 4);
  assert.equal(await r.lindex('l:a', -1), 'c');
  assert.equal(await r.lset('l:a', 1, 'A'), 'OK');
  assert.equal(await r.linsert('l:a', 'BEFORE', 'b', 'x'), 5);
  assert.equal(await r.lpos('l:a', 'x'), 2);
  assert.equal(await r.lrem('l:a', 0, 'x'), 1);
  assert.equal(await r.ltrim('l:a', 0, 2), 'OK');
  assert.deepEqual(await r.lrange('l:a', 0, -1), ['z', 'A', 'b']);
  assert.equal(await r.lmove('l:a', 'l:b', 'LEFT', 'RIGHT'), 'z');
  assert.deepEqual(await r.lpop('l:a', 5), ['A', 'b']);
  assert.equal(await r.exists('l:a'), 0);
  assert.equal(await r.rpop('l:b'), 'z');
  assert.equal(await r.rpop('l:b'), null);
  await r.rpush('l:c', '1', '2');
  assert.deepEqual(await r.call('LMPOP', '2', 'l:none', 'l:c', 'RIGHT', 'COUNT', '5'), ['l:c', ['2', '1']]);
  // BLPOP served by a push from another connection.
  const blocker = client();
  const popped = blocker.blpop('l:wait', 5);
  await until(async () => (await r.client('LIST')).includes('cmd=blpop'), 3000, 'the client to block');
  await r.rpush('l:wait', 'v');
  assert.deepEqual(await popped, ['l:wait', 'v']);
  assert.equal(await blocker.brpop('l:empty', 0.1), null);
  await r.set('l:str', 'x');
  await assert.rejects(r.lpush('l:str', 'x'), /^ReplyError: WRONGTYPE Operation against a key holding the wrong kind of value/);
});

test('ioredis: hashes', async () => {
  assert.equal(await r.hset('h:a', { f1: 'v1', f2: 'v2', n: '5' }), 3);
  assert.equal(await r.hget('h:a', 'f1'), 'v1');
  assert.deepEqual(await r.hgetall('h:a'), { f1: 'v1', f2: 'v2', n: '5' });
  assert.deepEqual(await r.hmget('h:a', 'f2', 'nope'), ['v2', null]);
  assert.equal(await r.hincrby('h:a', 'n', 10), 15);
  assert.equal(await r.hincrbyfloat('h:a', 'n', '0.5'), '15.5');
  assert.equal(await r.hsetnx('h:a', 'f1', 'x'), 0);
  assert.equal(await r.hexists('h:a', 'f2'), 1);
  assert.equal(await r.hstrlen('h:a', 'f2'), 2);
  assert.equal(await r.hlen('h:a'), 3);
  assert.deepEqual((await r.hkeys('h:a')).sort(), ['f1', 'f2', 'n']);
  assert.deepEqual((await r.hvals('h:a')).sort(), ['15.5', 'v1', 'v2']);
  assert.equal(await r.hdel('h:a', 'f1', 'nope'), 1);
  const [cursor, flat] = await r.hscan('h:a', 0, 'MATCH', 'f*');
  assert.equal(cursor, '0');
  assert.deepEqual(flat, ['f2', 'v2']);
  const rnd = await r.hrandfield('h:a', -5, 'WITHVALUES');
  assert.equal(rnd.length, 10);
  assert.equal(await r.object('ENCODING', 'h:a'), 'listpack');
  assert.deepEqual(await r.hgetall('h:none'), {});
});

test('ioredis: sets', async () => {
  assert.equal(await r.sadd('t:a', 'a', 'b', 'c', 'a'), 3);
  assert.equal(await r.sadd('t:b', 'b', 'c', 'd'), 3);
  assert.deepEqual((await r.smembers('t:a')).sort(), ['a', 'b', 'c']);
  assert.equal(await r.sismember('t:a', 'a'), 1);
  assert.deepEqual(await r.smismember('t:a', 'a', 'z'), [1, 0]);
  assert.equal(await r.scard('t:a'), 3);
  assert.deepEqual((await r.sinter('t:a', 't:b')).sort(), ['b', 'c']);
  assert.deepEqual((await r.sunion('t:a', 't:b')).sort(), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await r.sdiff('t:a', 't:b'), ['a']);
  assert.equal(await r.sinterstore('t:c', 't:a', 't:b'), 2);
  assert.equal(await r.call('SINTERCARD', '2', 't:a', 't:b'), 2);
  assert.equal(await r.smove('t:a', 't:b', 'a'), 1);
  assert.equal(await r.srem('t:b', 'a', 'zz'), 1);
  assert.ok(['b', 'c', 'd'].includes(await r.srandmember('t:b')));
  const popped = await r.spop('t:b', 3);
  assert.deepEqual(popped.sort(), ['b', 'c', 'd']);
  assert.equal(await r.exists('t:b'), 0);
  await r.sadd('t:int', 1, 2, 3);
  assert.equal(await r.object('ENCODING', 't:int'), 'intset');
  const [, members] = await r.sscan('t:int', 0, 'COUNT', 100);
  assert.deepEqual(members.sort(), ['1', '2', '3']);
});

test('ioredis: sorted sets', async () => {
  assert.equal(await r.zadd('z:a', 1, 'one', 2, 'two', 3, 'three'), 3);
  assert.equal(await r.zscore('z:a', 'two'), '2');
  assert.deepEqual(await r.zrange('z:a', 0, -1, 'WITHSCORES'), ['one', '1', 'two', '2', 'three', '3']);
  assert.deepEqual(await r.zrevrange('z:a', 0, 0), ['three']);
  assert.deepEqual(await r.zrangebyscore('z:a', '(1', '+inf'), ['two', 'three']);
  assert.deepEqual(await r.zrange('z:a', '+inf', 2, 'BYSCORE', 'REV', 'LIMIT', 0, 1), ['three']);
  assert.equal(await r.zincrby('z:a', '0.5', 'one'), '1.5');
  assert.equal(await r.zrank('z:a', 'two'), 1);
  assert.equal(await r.zrevrank('z:a', 'two'), 1);
  assert.equal(await r.zcount('z:a', 2, 3), 2);
  assert.equal(await r.zcard('z:a'), 3);
  assert.deepEqual(await r.zmscore('z:a', 'one', 'nope'), ['1.5', null]);
  assert.equal(await r.zadd('z:a', 'GT', 'CH', 1, 'three'), 0);
  assert.equal(await r.zadd('z:a', 'LT', 'CH', 1, 'three'), 1);
  assert.deepEqual(await r.zpopmin('z:a'), ['three', '1']);
  assert.equal(await r.zrem('z:a', 'one', 'nope'), 1);
  await r.zadd('z:b', 5, 'two', 7, 'x');
  assert.equal(await r.zunionstore('z:u', 2, 'z:a', 'z:b', 'WEIGHTS', 2, 1), 2);
  assert.deepEqual(await r.zrange('z:u', 0, -1, 'WITHSCORES'), ['x', '7', 'two', '9']);
  assert.equal(await r.zinterstore('z:i', 2, 'z:a', 'z:b', 'AGGREGATE', 'MAX'), 1);
  assert.equal(await r.zrangestore('z:st', 'z:u', 0, 0), 1);
  await r.zadd('z:lex', 0, 'a', 0, 'b', 0, 'c');
  assert.equal(await r.zlexcount('z:lex', '[a', '(c'), 2);
  assert.deepEqual(await r.zrangebylex('z:lex', '-', '+', 'LIMIT', 1, 1), ['b']);
  assert.deepEqual(await r.bzpopmax('z:lex', 1), ['z:lex', 'c', '0']);
  await r.zadd('z:inf', '-inf', 'lo', 'inf', 'hi');
  assert.deepEqual(await r.zrange('z:inf', 0, -1, 'WITHSCORES'), ['lo', '-inf', 'hi', 'inf']);
  await assert.rejects(r.zadd('z:a', 'nan', 'm'), /ERR value is not a valid float/);
});

test('ioredis: streams', async () => {
  const id1 = await r.xadd('x:s', '*', 'a', '1');
  assert.match(id1, /^\d+-\d+$/);
  assert.equal(await r.xadd('x:s', '9999999999999-1', 'b', '2'), '9999999999999-1');
  await assert.rejects(r.xadd('x:s', '1-1', 'c', '3'), /ERR The ID specified in XADD is equal or smaller than the target stream top item/);
  assert.equal(await r.xlen('x:s'), 2);
  assert.deepEqual(await r.xrange('x:s', '-', '+'), [[id1, ['a', '1']], ['9999999999999-1', ['b', '2']]]);
  assert.deepEqual(await r.xrevrange('x:s', '+', '-', 'COUNT', 1), [['9999999999999-1', ['b', '2']]]);
  assert.deepEqual(await r.xread('COUNT', 1, 'STREAMS', 'x:s', '0'), [['x:s', [[id1, ['a', '1']]]]]);
  assert.equal(await r.xgroup('CREATE', 'x:s', 'g', '0'), 'OK');
  const got = await r.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', 'x:s', '>');
  assert.equal(got[0][1].length, 2);
  const pending = await r.xpending('x:s', 'g');
  assert.equal(pending[0], 2);
  assert.deepEqual(pending[3], [['c1', '2']]);
  assert.equal(await r.xack('x:s', 'g', id1), 1);
  const claimed = await r.xclaim('x:s', 'g', 'c2', 0, '9999999999999-1');
  assert.deepEqual(claimed, [['9999999999999-1', ['b', '2']]]);
  const auto = await r.xautoclaim('x:s', 'g', 'c3', 0, '0-0');
  assert.equal(auto[0], '0-0');
  assert.equal(auto[1].length, 1);
  const info = await r.xinfo('STREAM', 'x:s');
  assert.equal(info[info.indexOf('length') + 1], 2);
  const groups = await r.xinfo('GROUPS', 'x:s');
  assert.equal(groups[0][1], 'g');
  // XREAD BLOCK served by an XADD on another connection.
  const blocker = client();
  const waiting = blocker.xread('BLOCK', 5000, 'STREAMS', 'x:s', '$');
  await until(async () => (await r.client('LIST')).includes('cmd=xread'), 3000, 'XREAD to block');
  await r.xadd('x:s', '9999999999999-2', 'c', '3');
  assert.deepEqual(await waiting, [['x:s', [['9999999999999-2', ['c', '3']]]]]);
  assert.equal(await r.xdel('x:s', id1), 1);
  assert.equal(await r.xtrim('x:s', 'MAXLEN', 1), 1);
  assert.equal(await r.xlen('x:s'), 1);
});

test('ioredis: geo', async () => {
  assert.equal(await r.geoadd('g:s', 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania'), 2);
  assert.equal(await r.geodist('g:s', 'Palermo', 'Catania', 'km'), '166.2742');
  const [pos] = await r.geopos('g:s', 'Palermo');
  assert.ok(Math.abs(Number(pos[0]) - 13.361389) < 1e-5);
  assert.deepEqual(await r.geohash('g:s', 'Palermo'), ['sqc8b49rny0']);
  assert.deepEqual(await r.geosearch('g:s', 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'ASC'), ['Catania', 'Palermo']);
  const withDist = await r.georadius('g:s', 15, 37, 100, 'km', 'WITHDIST');
  assert.deepEqual(withDist, [['Catania', '56.4413']]);
  assert.equal(await r.geosearchstore('g:d', 'g:s', 'FROMMEMBER', 'Palermo', 'BYBOX', 400, 400, 'km'), 2);
  assert.equal(await r.type('g:d'), 'zset');
});

test('ioredis: HyperLogLog', async () => {
  assert.equal(await r.pfadd('p:a', 'a', 'b', 'c'), 1);
  assert.equal(await r.pfadd('p:a', 'a'), 0);
  assert.equal(await r.pfcount('p:a'), 3);
  const many = Array.from({ length: 1000 }, (_, i) => `m${i}`);
  await r.pfadd('p:b', ...many);
  const n = await r.pfcount('p:b');
  assert.ok(Math.abs(n - 1000) < 30, `pfcount ${n}`);
  assert.equal(await r.pfmerge('p:c', 'p:a', 'p:b'), 'OK');
  assert.ok((await r.pfcount('p:c')) >= n);
  await r.set('p:str', 'not a hll');
  await assert.rejects(r.pfcount('p:str'), /WRONGTYPE Key is not a valid HyperLogLog string value/);
});

test('ioredis: bitmaps', async () => {
  assert.equal(await r.setbit('b:a', 7, 1), 0);
  assert.equal(await r.getbit('b:a', 7), 1);
  assert.equal(await r.get('b:a'), '\x01');
  await r.set('b:k', 'foobar');
  assert.equal(await r.bitcount('b:k'), 26);
  assert.equal(await r.bitcount('b:k', 1, 1), 6);
  assert.equal(await r.call('BITCOUNT', 'b:k', '5', '30', 'BIT'), 17);
  assert.equal(await r.bitpos('b:k', 1), 1);
  await r.set('b:x', 'abc');
  await r.set('b:y', 'ab');
  assert.equal(await r.bitop('AND', 'b:and', 'b:x', 'b:y'), 3);
  assert.equal(await r.get('b:and'), 'ab\x00');
  assert.deepEqual(await r.bitfield('b:f', 'SET', 'u8', 0, 255, 'INCRBY', 'u8', 0, 10, 'GET', 'i8', 0), [0, 9, 9]);
  assert.deepEqual(await r.bitfield('b:f', 'OVERFLOW', 'FAIL', 'INCRBY', 'u8', 0, 250), [null]);
  assert.deepEqual(await r.call('BITFIELD_RO', 'b:f', 'GET', 'u4', 0), [0]);
});

test('ioredis: pipelines', async () => {
  const results = await r
    .pipeline()
    .set('pl:a', '1')
    .incr('pl:a')
    .lpush('pl:a', 'x')
    .get('pl:a')
    .exec();
  assert.equal(results.length, 4);
  assert.deepEqual(results[0], [null, 'OK']);
  assert.deepEqual(results[1], [null, 2]);
  assert.match(String(results[2][0]), /WRONGTYPE/);
  assert.deepEqual(results[3], [null, '2']);
  const p = r.pipeline();
  for (let i = 0; i < 1000; i++) p.set(`pl:k${i}`, i);
  for (let i = 0; i < 1000; i++) p.get(`pl:k${i}`);
  const big = await p.exec();
  assert.equal(big.length, 2000);
  assert.deepEqual(big[1999], [null, '999']);
  assert.ok(big.every(([err]) => err === null));
});

test('ioredis: MULTI/EXEC, WATCH, DISCARD', async () => {
  const res = await r.multi().set('m:a', '1').incr('m:a').get('m:a').exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 2], [null, '2']]);
  // A runtime error inside EXEC does not abort the others.
  const mixed = await r.multi().set('m:s', 'x').incr('m:s').set('m:t', 'y').exec();
  assert.equal(mixed[0][1], 'OK');
  assert.match(String(mixed[1][0]), /ERR value is not an integer/);
  assert.equal(mixed[2][1], 'OK');
  // WATCH: a change from another client makes EXEC return null.
  const w = client();
  await w.watch('m:w');
  await r.set('m:w', 'changed');
  assert.equal(await w.multi().set('m:w', 'mine').exec(), null);
  assert.equal(await r.get('m:w'), 'changed');
  await w.watch('m:w');
  assert.deepEqual(await w.multi().set('m:w', 'mine').exec(), [[null, 'OK']]);
  // A queueing error aborts the transaction (EXECABORT).
  await assert.rejects(w.multi().set('m:q', '1').call('NOSUCHCMD').exec(), /EXECABORT/);
  assert.equal(await r.exists('m:q'), 0);
  assert.equal(await w.multi({ pipeline: false }), 'OK');
  assert.equal(await w.set('m:d', '1'), 'QUEUED');
  assert.equal(await w.discard(), 'OK');
  assert.equal(await r.exists('m:d'), 0);
});

test('ioredis: pub/sub', async () => {
  const sub = client();
  const got = [];
  sub.on('message', (ch, msg) => got.push(['message', ch, msg]));
  sub.on('pmessage', (pat, ch, msg) => got.push(['pmessage', pat, ch, msg]));
  assert.equal(await sub.subscribe('ch:1', 'ch:2'), 2);
  assert.equal(await sub.psubscribe('ch:*'), 3);
  assert.equal(await r.publish('ch:1', 'hello'), 2);
  assert.equal(await r.publish('ch:3', 'pat only'), 1);
  await until(() => got.length === 3, 3000, 'messages');
  assert.deepEqual(got, [
    ['message', 'ch:1', 'hello'],
    ['pmessage', 'ch:*', 'ch:1', 'hello'],
    ['pmessage', 'ch:*', 'ch:3', 'pat only'],
  ]);
  const chans = await r.pubsub('CHANNELS', 'ch:*');
  assert.deepEqual(chans.sort(), ['ch:1', 'ch:2']);
  assert.deepEqual(await r.pubsub('NUMSUB', 'ch:1'), ['ch:1', 1]);
  assert.equal(await r.pubsub('NUMPAT'), 1);
  await sub.unsubscribe('ch:1');
  await sub.punsubscribe('ch:*');
  assert.equal(await r.publish('ch:1', 'nobody'), 0);
  await assert.rejects(sub.get('x'), /Connection in subscriber mode, only subscriber commands may be used/);
  // Sharded pub/sub.
  const ssub = client();
  const sgot = [];
  ssub.on('smessage', (ch, msg) => sgot.push([ch, msg]));
  await ssub.ssubscribe('sch');
  assert.equal(await r.spublish('sch', 'shard'), 1);
  await until(() => sgot.length === 1, 3000, 'smessage');
  assert.deepEqual(sgot, [['sch', 'shard']]);
});

test('ioredis: Lua scripts with defineCommand', async () => {
  r.defineCommand('setAndGetDouble', {
    numberOfKeys: 1,
    lua: "redis.call('SET', KEYS[1], ARGV[1]); return tonumber(redis.call('GET', KEYS[1])) * 2",
  });
  r.defineCommand('listTable', {
    numberOfKeys: 2,
    lua: "return {KEYS[1], KEYS[2], ARGV[1], redis.call('EXISTS', KEYS[1]), false, 3.99, {ok='fine'}}",
  });
  assert.equal(await r.setAndGetDouble('lua:a', 21), 42);
  assert.deepEqual(await r.listTable('lua:a', 'lua:b', 'x'), ['lua:a', 'lua:b', 'x', 1, null, 3, 'fine']);
  // After SCRIPT FLUSH, ioredis gets NOSCRIPT for EVALSHA and falls back to EVAL.
  assert.equal(await r.script('FLUSH'), 'OK');
  assert.equal(await r.setAndGetDouble('lua:a', 5), 10);
  const inPipeline = await r.pipeline().setAndGetDouble('lua:c', 1).get('lua:c').exec();
  assert.deepEqual(inPipeline, [[null, 2], [null, '1']]);
  assert.equal(await r.eval("return redis.status_reply('FINE')", 0), 'FINE');
  await assert.rejects(r.eval("return redis.error_reply('MY bad')", 0), /MY bad/);
  await r.set('lua:s', 'x');
  await assert.rejects(r.eval("return redis.call('INCR', KEYS[1])", 1, 'lua:s'), /ERR value is not an integer or out of range/);
  const sha = await r.script('LOAD', 'return ARGV[1]');
  assert.deepEqual(await r.script('EXISTS', sha, '0000000000000000000000000000000000000000'), [1, 0]);
  assert.equal(await r.evalsha(sha, 0, 'back'), 'back');
  assert.equal(await r.call('EVAL_RO', "return redis.call('GET', KEYS[1])", '1', 'lua:c'), '1');
  await r.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=nodelib\nredis.register_function('twice', function(keys, args) return args[1] * 2 end)");
  assert.equal(await r.call('FCALL', 'twice', '0', '21'), 42);
});

test('ioredis: scanStream and friends', async () => {
  const p = r.pipeline();
  for (let i = 0; i < 500; i++) p.set(`scan:${i}`, i);
  for (let i = 0; i < 300; i++) p.hset('scan:h', `f${i}`, i);
  for (let i = 0; i < 300; i++) p.sadd('scan:s', `m${i}`);
  for (let i = 0; i < 300; i++) p.zadd('scan:z', i, `m${i}`);
  await p.exec();
  const collect = (stream) =>
    new Promise((resolve, reject) => {
      const all = [];
      stream.on('data', (batch) => all.push(...batch));
      stream.on('end', () => resolve(all));
      stream.on('error', reject);
    });
  const keys = await collect(r.scanStream({ match: 'scan:[0-9]*', count: 50 }));
  assert.equal(new Set(keys).size, 500);
  const typed = await collect(r.scanStream({ match: 'scan:*', type: 'hash', count: 100 }));
  assert.deepEqual([...new Set(typed)], ['scan:h']);
  const fields = await collect(r.hscanStream('scan:h', { count: 20 }));
  assert.equal(fields.length, 600);
  assert.equal(new Set(fields.filter((_, i) => i % 2 === 0)).size, 300);
  const members = await collect(r.sscanStream('scan:s', { match: 'm1*' }));
  assert.equal(new Set(members).size, 111);
  const zs = await collect(r.zscanStream('scan:z', { count: 30 }));
  assert.equal(zs.length, 600);
});

test('ioredis: reconnects after CLIENT KILL', async () => {
  const c = client({ retryStrategy: () => 50 });
  await c.set('rc:a', '1');
  const id = await c.client('ID');
  let reconnects = 0;
  c.on('reconnecting', () => reconnects++);
  assert.equal(await r.client('KILL', 'ID', id), 1);
  await until(() => reconnects > 0, 5000, 'the reconnect');
  assert.equal(await c.get('rc:a'), '1');
  const id2 = await c.client('ID');
  assert.notEqual(String(id2), String(id));
  // ioredis re-selects the database and re-subscribes after a reconnect.
  const sub = client({ retryStrategy: () => 50 });
  const got = [];
  sub.on('message', (ch, msg) => got.push(msg));
  await sub.subscribe('rc:ch');
  const subId = (await r.client('LIST')).split('\n').find((l) => l.includes('sub=1'));
  const kill = subId.match(/id=(\d+)/)[1];
  await r.client('KILL', 'ID', kill);
  await until(async () => (await r.pubsub('NUMSUB', 'rc:ch'))[1] === 1 && (await r.client('LIST')).includes('sub=1') && !(await r.client('LIST')).includes(`id=${kill} `), 5000, 'the resubscribe');
  assert.equal(await r.publish('rc:ch', 'after'), 1);
  await until(() => got.length === 1, 3000, 'the message');
  assert.deepEqual(got, ['after']);
  // Killing by type: all normal clients but this one go, and come back.
  assert.ok((await r.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')) >= 1);
  assert.equal(await c.get('rc:a'), '1');
});

test('ioredis: server commands', async () => {
  const info = await r.info('server');
  assert.match(info, /redis_version:7\./);
  assert.equal(await r.ping(), 'PONG');
  assert.equal(await r.echo('hi'), 'hi');
  assert.equal(await r.config('SET', 'maxmemory-policy', 'allkeys-lru'), 'OK');
  assert.deepEqual(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  await r.config('SET', 'maxmemory-policy', 'noeviction');
  const [sec, usec] = await r.time();
  assert.ok(Math.abs(Number(sec) - Date.now() / 1000) < 5 && Number(usec) < 1e6);
  assert.ok((await r.dbsize()) > 0);
  assert.equal(await r.client('SETNAME', 'node-test'), 'OK');
  assert.equal(await r.client('GETNAME'), 'node-test');
  const cmd = await r.command('INFO', 'get');
  assert.equal(cmd[0][0], 'get');
  assert.equal(cmd[0][1], 2);
  await r.select(9);
  await r.set('srv:x', '1');
  assert.equal(await r.swapdb(9, 10), 'OK');
  assert.equal(await r.exists('srv:x'), 0);
  await r.select(10);
  assert.equal(await r.flushdb(), 'OK');
  await r.select(DB);
});
