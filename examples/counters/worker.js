'use strict';
// One of several processes hitting the same counters at once.
// Usage: node worker.js <redis-url> <worker-number> <views> <likes>
const { connect, recordView, like } = require('./counters');

const PAGES = ['/', '/pricing', '/docs', '/blog'];

async function main() {
  const [url, workerArg, viewsArg, likesArg] = process.argv.slice(2);
  const worker = Number(workerArg);
  const redis = connect(url);
  // Page views: view i goes to page (i mod 4); half of them through a pipeline of 50.
  const views = Number(viewsArg);
  for (let i = 0; i < views; ) {
    if (i % 100 < 50) {
      await recordView(redis, PAGES[i % PAGES.length]);
      i++;
    } else {
      const batch = [];
      for (let j = 0; j < 50 && i < views; j++, i++) batch.push(recordView(redis, PAGES[i % PAGES.length]));
      await Promise.all(batch);
    }
  }
  // Likes: every worker has users 0..likes-1 like post 1 (the same users in every
  // worker: the count must still be `likes`), and its own users like post 2.
  const likes = Number(likesArg);
  await Promise.all(
    Array.from({ length: likes }, (_, u) => [
      like(redis, 1, `user${u}`),
      like(redis, 2, `w${worker}-user${u}`),
    ]).flat(),
  );
  await redis.quit();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
