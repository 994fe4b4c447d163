'use strict';
// One instance of a web app whose sessions live in Redis (express-session with
// connect-redis's RedisStore). Any number of instances can run behind a load balancer:
// they share the sessions, so a user stays logged in whichever instance answers.
//
// Env: REDIS_URL (default redis://127.0.0.1:6379), PORT (default 3000; 0 = any free
// port), INSTANCE (a name shown in replies), SESSION_SECRET.
//
//   POST /login  {"user": "alice"}  starts a session (new session id, cookie "sid")
//   GET  /me                         the session's user and visit count (counts this visit)
//   POST /logout                     ends the session everywhere
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');

function createApp({ redis, instance, secret }) {
  const app = express();
  app.use(express.json());
  app.use(
    session({
      store: new RedisStore({ client: redis, prefix: 'sess:' }),
      name: 'sid',
      secret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: 60 * 60 * 1000 }, // 1 hour
    }),
  );

  app.post('/login', (req, res, next) => {
    const user = req.body && req.body.user;
    if (typeof user !== 'string' || !user) return res.status(400).json({ error: 'user required' });
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = user;
      req.session.visits = 0;
      res.json({ user, instance });
    });
  });

  app.get('/me', (req, res) => {
    if (!req.session.user) return res.status(401).json({ error: 'not logged in', instance });
    req.session.visits += 1;
    res.json({ user: req.session.user, visits: req.session.visits, instance });
  });

  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.clearCookie('sid').json({ instance })));
  });
  return app;
}

if (require.main === module) {
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  redis.on('error', (e) => console.error(`redis: ${e.message}`)); // reconnects by itself
  const instance = process.env.INSTANCE || `app-${process.pid}`;
  const app = createApp({ redis, instance, secret: process.env.SESSION_SECRET || 'change me' });
  const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () =>
    console.log(`${instance} listening on ${server.address().port}`),
  );
  process.on('SIGTERM', () => server.close(() => redis.quit().then(() => process.exit(0))));
}

module.exports = { createApp };
