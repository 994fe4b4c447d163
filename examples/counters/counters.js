'use strict';
// Shared counters: every operation is a single atomic server-side command (or a Lua
// script), so any number of processes can count at once without losing an update.
//
//   page views   INCR   views:<page>            one counter per page
//   daily views  HINCRBY views:daily <page> 1    one hash field per page
//   top pages    ZINCRBY views:top 1 <page>      a leaderboard, sorted by views
//   likes        SADD post:<id>:likers <user>    a set of who liked, and HINCRBY likes <id>
//                                                only when SADD added the user (Lua, atomic)
const Redis = require('ioredis');

const LIKE_SCRIPT = `
if redis.call('SADD', KEYS[1], ARGV[2]) == 1 then
  return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
return -1`;

function connect(url) {
  const redis = new Redis(url);
  // like(postId, userId): counts a user's like once, however often it is sent.
  redis.defineCommand('likeOnce', { numberOfKeys: 2, lua: LIKE_SCRIPT });
  return redis;
}

// Records one page view: the three counters move together (MULTI/EXEC).
function recordView(redis, page) {
  return redis
    .multi()
    .incr(`views:${page}`)
    .hincrby('views:daily', page, 1)
    .zincrby('views:top', 1, page)
    .exec();
}

// Returns the post's like count after this like, or null if the user had liked it.
async function like(redis, postId, userId) {
  const n = await redis.likeOnce(`post:${postId}:likers`, 'likes', postId, userId);
  return n === -1 ? null : n;
}

async function totals(redis, pages) {
  const views = await redis.mget(pages.map((p) => `views:${p}`));
  return {
    views: Object.fromEntries(pages.map((p, i) => [p, Number(views[i] || 0)])),
    daily: await redis.hgetall('views:daily'),
    top: await redis.zrevrange('views:top', 0, -1, 'WITHSCORES'),
    likes: await redis.hgetall('likes'),
  };
}

module.exports = { connect, recordView, like, totals };
