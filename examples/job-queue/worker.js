'use strict';
// A worker process sending the queued e-mails through the mail service.
// Env: REDIS_URL, SINK_URL (the mail service), WORKER_NAME, LOCK_MS (default 30000).
// It prints one JSON line per event (ready / start / done / failed) for the test to read.
const { Worker } = require('bullmq');
const IORedis = require('ioredis');

const name = process.env.WORKER_NAME || `worker-${process.pid}`;
const log = (event, fields = {}) => console.log(JSON.stringify({ event, worker: name, pid: process.pid, ...fields }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sendEmail(job) {
  log('start', { id: job.id, attempt: job.attemptsMade + 1 });
  await sleep(job.data.workMs || 0); // rendering the template, attachments...
  const res = await fetch(`${process.env.SINK_URL}/send`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': job.id },
    body: JSON.stringify({ to: job.data.to, subject: job.data.subject, n: job.data.n }),
  });
  if (!res.ok) throw new Error(`mail service answered ${res.status}`); // BullMQ retries
  const { messageId } = await res.json();
  return { messageId, worker: name };
}

const lockDuration = Number(process.env.LOCK_MS || 30000);
const connection = new IORedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const worker = new Worker('emails', sendEmail, {
  connection,
  concurrency: 2,
  lockDuration, // a crashed worker's job is taken back after this...
  stalledInterval: Math.max(500, lockDuration / 2), // ...by the next stalled-jobs check
});
worker.on('completed', (job) => log('done', { id: job.id }));
worker.on('failed', (job, err) => log('failed', { id: job && job.id, error: err.message }));
worker.on('stalled', (id) => log('stalled', { id }));
worker.on('error', (err) => log('error', { error: err.message }));
worker.waitUntilReady().then(() => log('ready'));

async function shutdown() {
  await worker.close();
  await connection.quit();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
