'use strict';
// Queues a batch of e-mails. Usage: node producer.js <count>
// Env: REDIS_URL (default redis://127.0.0.1:6379).
// Every 8th e-mail is a delayed one (sent no earlier than 2 s from now); each job is
// retried up to 4 times with a 300 ms backoff. Job ids are fixed (email-<n>), so
// running the producer twice does not queue the same e-mail twice.
const { Queue } = require('bullmq');
const IORedis = require('ioredis');

const DELAY_MS = 2000;

// The batch: job specs for Queue.addBulk.
function emails(count) {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const delayed = n % 8 === 0;
    return {
      name: 'welcome',
      data: {
        n,
        to: `user${n}@example.test`,
        subject: `Welcome, user ${n}`,
        workMs: n === 13 ? 4000 : 30, // e-mail 13 takes long to render
      },
      opts: {
        jobId: `email-${n}`,
        attempts: 4,
        backoff: { type: 'fixed', delay: 300 },
        ...(delayed ? { delay: DELAY_MS } : {}),
      },
    };
  });
}

async function produce(connection, count) {
  const queue = new Queue('emails', { connection });
  const jobs = emails(count);
  await queue.addBulk(jobs);
  await queue.close();
  return jobs;
}

if (require.main === module) {
  const connection = new IORedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  produce(connection, Number(process.argv[2] || 40))
    .then((jobs) => {
      console.log(`queued ${jobs.length} e-mails`);
      return connection.quit();
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}

module.exports = { emails, produce, DELAY_MS };
