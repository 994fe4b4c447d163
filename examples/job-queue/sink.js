'use strict';
// A fake mail service: POST /send with a JSON e-mail and an Idempotency-Key header.
// It keeps the mailbox in memory and in a JSON-lines file, answers a repeated key with
// 200 {duplicate: true} without delivering again (like real mail APIs do), and can be
// told to fail the first attempt of some messages with 503 to exercise retries.
const fs = require('node:fs');
const http = require('node:http');

function startSink({ file, failFirstAttempt = () => false, port = 0 } = {}) {
  const mailbox = new Map(); // idempotency key -> delivered message
  const attempts = new Map(); // idempotency key -> number of POSTs
  const duplicates = []; // keys posted again after delivery
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/send') {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      let msg;
      try {
        msg = JSON.parse(body);
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (!key || !msg.to) {
        res.writeHead(400).end();
        return;
      }
      const n = (attempts.get(key) || 0) + 1;
      attempts.set(key, n);
      if (n === 1 && failFirstAttempt(msg)) {
        res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"try again"}');
        return;
      }
      if (mailbox.has(key)) {
        duplicates.push(key);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ duplicate: true, ...mailbox.get(key) }));
        return;
      }
      const delivered = { ...msg, key, messageId: `<${key}@sink.test>`, receivedAt: Date.now() };
      mailbox.set(key, delivered);
      if (file) fs.appendFileSync(file, JSON.stringify(delivered) + '\n');
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(delivered));
    });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        mailbox,
        attempts,
        duplicates,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

if (require.main === module) {
  startSink({ file: process.env.MAILBOX || 'mailbox.jsonl', port: Number(process.env.PORT || 8025) }).then((s) =>
    console.log(`mail sink on ${s.url}/send`),
  );
}

module.exports = { startSink };
