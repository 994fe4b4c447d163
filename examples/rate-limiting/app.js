'use strict';
// An Express app with the three limiters:
//   GET  /api     fixed window, 10 requests per minute per IP
//   GET  /search  sliding window, 5 requests per 10 seconds per IP
//   POST /login   {user, password}: 10 failed logins from an IP block it for 10 minutes
// Run: REDIS_URL=redis://127.0.0.1:6379 PORT=3000 node app.js
const express = require('express');
const Redis = require('ioredis');
const { fixedWindow, slidingWindow } = require('./limiters');
const { createLoginLimiter } = require('./login');

const USERS = { alice: 'wonderland', bob: 'builder' }; // stand-in for a user table

function createApp(redis, options = {}) {
  const app = express();
  app.set('trust proxy', 'loopback'); // req.ip from X-Forwarded-For behind a local proxy
  app.use(express.json());
  const login = createLoginLimiter(redis, options.login);
  const api = { limit: 10, window: 60, ...options.api };
  const search = { limit: 5, windowMs: 10_000, ...options.search };

  app.get('/api', async (req, res) => {
    const r = await fixedWindow(redis, req.ip, api.limit, api.window);
    res.set('X-RateLimit-Remaining', String(r.remaining));
    if (!r.allowed) return res.status(429).set('Retry-After', String(Math.ceil(r.resetMs / 1000))).end();
    res.json({ ok: true });
  });

  app.get('/search', async (req, res) => {
    const r = await slidingWindow(redis, req.ip, search.limit, search.windowMs);
    res.set('X-RateLimit-Remaining', String(r.remaining));
    if (!r.allowed) return res.status(429).set('Retry-After', String(Math.ceil(r.retryMs / 1000))).end();
    res.json({ ok: true });
  });

  app.post('/login', async (req, res) => {
    const { user, password } = req.body || {};
    const wait = await login.retryAfterSecs(req.ip, user);
    if (wait > 0) return res.status(429).set('Retry-After', String(wait)).send('Too Many Requests');
    const exists = Object.hasOwn(USERS, user);
    if (!exists || USERS[user] !== password) {
      const blocked = await login.failed(req.ip, user, exists);
      if (blocked > 0) return res.status(429).set('Retry-After', String(blocked)).send('Too Many Requests');
      return res.status(401).send('wrong user or password');
    }
    await login.succeeded(req.ip, user);
    res.send('welcome');
  });
  return app;
}

if (require.main === module) {
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const port = Number(process.env.PORT || 3000);
  createApp(redis).listen(port, () => console.log(`listening on ${port}`));
}

module.exports = { createApp };
