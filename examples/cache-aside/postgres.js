'use strict';
// Starts a private PostgreSQL server for the test: initdb in a temporary directory,
// then `postgres` on a free port of 127.0.0.1 with its socket in that directory.
// PostgreSQL refuses to run as root, so as root (CI) both run as the `postgres` user
// created by Debian's package (or `nobody` if there is none).
// Env: PG_BINDIR (default: the newest /usr/lib/postgresql/<version>/bin, then PATH).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { freePort, sleep } = require('../support/ferrodis');

function binDir() {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs
      .readdirSync(base)
      .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
      .sort((x, y) => Number(y) - Number(x));
    if (versions.length) return path.join(base, versions[0], 'bin');
  }
  return ''; // rely on PATH
}

function runAs() {
  if (process.getuid() !== 0) return {};
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user]).toString());
      const gid = Number(execFileSync('id', ['-g', user]).toString());
      return { uid, gid };
    } catch {
      // no such user
    }
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists');
}

async function startPostgres() {
  const bin = (name) => (binDir() ? path.join(binDir(), name) : name);
  const ids = runAs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrodis-example-pg-'));
  const data = path.join(dir, 'data');
  if (ids.uid !== undefined) fs.chownSync(dir, ids.uid, ids.gid);
  execFileSync(bin('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    ...ids,
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await freePort();
  const logFile = path.join(dir, 'postgres.log');
  const log = fs.openSync(logFile, 'a');
  if (ids.uid !== undefined) fs.fchownSync(log, ids.uid, ids.gid);
  const proc = spawn(
    bin('postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    { ...ids, cwd: dir, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise((r) => proc.once('exit', r));
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30000;
  for (;;) {
    const c = new Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (e) {
      await c.end().catch(() => {});
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`postgres did not start: ${e.message}\n${fs.readFileSync(logFile, 'utf8')}`);
      }
      await sleep(100);
    }
  }
  return {
    url,
    port,
    async stop() {
      proc.kill('SIGINT'); // fast shutdown
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startPostgres };
