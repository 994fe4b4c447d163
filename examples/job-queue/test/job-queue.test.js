'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { Queue } = require('bullmq');
const IORedis = require('ioredis');
const { startServer, sleep } = require('../../support/ferrodis');
const { startSink } = require('../sink');
const { emails, DELAY_MS } = require('../producer');

const COUNT = 40;
const SLOW = 'email-13'; // takes 4 s: the worker running it is killed meanwhile

// Spawns worker.js; collects its JSON event lines into `events`.
function startWorker(name, env, events) {
  const proc = spawn(process.execPath, [path.join(__dirname, '..', 'worker.js')], {
    env: { ...process.env, ...env, WORKER_NAME: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // 'close': the process has exited and its output has been read to the end.
  const exited = new Promise((r) => proc.once('close', (code, sig) => r({ code, sig })));
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      process.stderr.write(`${name}: ${line}\n`);
    }
  });
  return { name, proc, exited };
}

async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('BullMQ: two workers, retries, delayed jobs and a SIGKILLed worker: every e-mail sent exactly once', async (t) => {
  const server = await startServer();
  const mailboxFile = path.join(server.dir, 'mailbox.jsonl');
  // The mail service fails the first attempt of every 5th e-mail.
  const sink = await startSink({ file: mailboxFile, failFirstAttempt: (m) => m.n % 5 === 0 });
  const connection = new IORedis(server.url, { maxRetriesPerRequest: null });
  const queue = new Queue('emails', { connection });
  const events = [];
  const workers = [];
  t.after(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await queue.close();
    await connection.quit();
    await sink.close();
    await server.stop();
    server.cleanup();
  });

  const env = { REDIS_URL: server.url, SINK_URL: sink.url, LOCK_MS: '2000' };
  workers.push(startWorker('A', env, events), startWorker('B', env, events));
  await waitFor('both workers ready', () => events.filter((e) => e.event === 'ready').length === 2, 20000);

  // The producer is a process of its own too.
  const producer = spawn(process.execPath, [path.join(__dirname, '..', 'producer.js'), String(COUNT)], {
    env: { ...process.env, REDIS_URL: server.url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let producerOut = '';
  producer.stdout.on('data', (d) => (producerOut += d));
  const producerExit = await new Promise((r) => producer.once('close', r));
  assert.equal(producerExit, 0);
  assert.equal(producerOut.trim(), `queued ${COUNT} e-mails`);
  const jobs = emails(COUNT);

  // Kill whichever worker picked up the slow e-mail, in the middle of it.
  const started = await waitFor('the slow job to start', () => events.find((e) => e.event === 'start' && e.id === SLOW), 20000);
  const victim = workers.find((w) => w.name === started.worker);
  victim.proc.kill('SIGKILL');
  const { sig } = await victim.exited;
  assert.equal(sig, 'SIGKILL');
  // The jobs the victim had in hand (concurrency 2): started, neither done nor failed.
  const inFlight = new Set();
  for (const e of events.filter((ev) => ev.worker === victim.name)) {
    if (e.event === 'start') inFlight.add(e.id);
    if (e.event === 'done' || e.event === 'failed') inFlight.delete(e.id);
  }
  assert.ok(inFlight.has(SLOW));
  // A supervisor would restart it: a third worker process joins.
  workers.push(startWorker('C', env, events));

  await waitFor(
    `${COUNT} completed jobs`,
    async () => (await queue.getJobCounts('completed')).completed === COUNT,
    60000,
  );
  // Stop the live workers cleanly (SIGTERM: Worker.close) so that all their output is in.
  for (const w of workers.filter((x) => x !== victim)) w.proc.kill('SIGTERM');
  for (const w of workers.filter((x) => x !== victim)) assert.deepEqual(await w.exited, { code: 0, sig: null });
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'paused', 'waiting-children');
  assert.deepEqual(counts, { completed: COUNT, failed: 0, active: 0, wait: 0, delayed: 0, paused: 0, 'waiting-children': 0 });

  // The mailbox has every e-mail exactly once (the file, as written by the sink).
  const lines = fs.readFileSync(mailboxFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, COUNT);
  assert.deepEqual(lines.map((m) => m.to).sort(), jobs.map((j) => j.data.to).sort());
  // BullMQ delivers at least once: a job the victim had already posted but not yet
  // marked completed when it died is run again by another worker. The Idempotency-Key
  // makes the mail service deliver it once; only such jobs may be posted twice.
  for (const key of sink.duplicates) assert.ok(inFlight.has(key), `${key} was posted twice but was not in flight at the crash`);

  // Each job completed exactly once, across all worker processes. (A job the victim
  // completed in Redis just before it died has no `done` line: allowed for those only.)
  const done = events.filter((e) => e.event === 'done').map((e) => e.id);
  assert.equal(new Set(done).size, done.length, 'no job completed twice');
  const unreported = jobs.map((j) => j.opts.jobId).filter((id) => !done.includes(id));
  for (const id of unreported) {
    assert.ok(inFlight.has(id), `${id} completed without a done event`);
    assert.equal((await queue.getJob(id)).returnvalue.worker, victim.name);
  }

  // Retries: every 5th e-mail failed once at the mail service, then went through.
  for (const j of jobs) {
    const id = j.opts.jobId;
    const flaky = j.data.n % 5 === 0;
    const reposted = sink.duplicates.filter((k) => k === id).length;
    assert.equal(sink.attempts.get(id), (flaky ? 2 : 1) + reposted, `mail service attempts for ${id}`);
    const job = await queue.getJob(id);
    assert.ok(job.finishedOn, `${id} finished`);
    assert.equal(job.returnvalue.messageId, `<${id}@sink.test>`);
    const failures = events.filter((e) => e.event === 'failed' && e.id === id).length;
    if (inFlight.has(id)) {
      // Its first attempt may have been refused just before the crash, unreported.
      assert.ok(failures <= (flaky ? 1 : 0), `${id} failures`);
    } else {
      assert.equal(failures, flaky ? 1 : 0, `${id} failures`);
      assert.equal(job.attemptsMade, flaky ? 2 : 1, `${id} attemptsMade`);
    }
  }

  // Delayed e-mails were not sent before their time.
  const delayed = jobs.filter((j) => j.opts.delay);
  assert.equal(delayed.length, COUNT / 8);
  for (const j of delayed) {
    const job = await queue.getJob(j.opts.jobId);
    assert.equal(job.opts.delay, DELAY_MS);
    const after = sink.mailbox.get(j.opts.jobId).receivedAt - job.timestamp; // timestamp: when queued
    assert.ok(after >= DELAY_MS, `${j.opts.jobId} sent ${after} ms after queueing`);
  }

  // The crashed worker's jobs were taken back (stalled-job recovery) and finished elsewhere.
  for (const id of inFlight) {
    if (unreported.includes(id)) continue; // finished by the victim itself
    const job = await queue.getJob(id);
    assert.notEqual(job.returnvalue.worker, victim.name, `${id} finished by another worker`);
    assert.ok(events.some((e) => e.event === 'stalled' && e.id === id), `stalled event for ${id}`);
  }
});
