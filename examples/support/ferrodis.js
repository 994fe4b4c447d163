'use strict';
// Test support shared by the examples: starts a private ferrodis-server (or any
// redis-server compatible binary) on a free port in a temporary directory, and stops,
// kills or restarts it. Only Node's standard library is used, so every example can
// require it without extra dependencies.
//
// Environment:
//   FERRODIS_BIN        server binary (default: the repository's target/debug build, then
//                       target/release). FERRODIS_BIN=/usr/bin/redis-server runs the
//                       same examples against Redis for comparison.
//   EXAMPLES_PORT_BASE  first port tried when looking for a free one (default 7500).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const usedPorts = new Set();

function serverBinary() {
  if (process.env.FERRODIS_BIN) return process.env.FERRODIS_BIN;
  for (const profile of ['debug', 'release']) {
    const bin = path.join(ROOT, 'target', profile, 'ferrodis-server');
    if (fs.existsSync(bin)) return bin;
  }
  throw new Error(
    'no ferrodis-server binary: run `cargo build` at the repository root or set FERRODIS_BIN',
  );
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// A free TCP port on 127.0.0.1, never the same one twice in this process.
async function freePort() {
  const base = Number(process.env.EXAMPLES_PORT_BASE || 7500);
  for (let port = base; port < base + 1000; port++) {
    if (usedPorts.has(port)) continue;
    if (await portIsFree(port)) {
      usedPorts.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${base}..${base + 999}`);
}

// Sends one inline command over a raw connection and resolves with the first reply line.
function rawCommand(port, line, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout waiting for a reply to ${line}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(line + '\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n');
      if (end >= 0) {
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.slice(0, end));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
  constructor(opts) {
    this.bin = serverBinary();
    this.args = opts.args || [];
    this.port = opts.port;
    this.dir = opts.dir;
    this.proc = null;
    this.exited = null;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir];
    if (!this.args.includes('--save')) args.push('--save', '');
    args.push(...this.args);
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.proc = spawn(this.bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    let alive = true;
    this.exited.then(() => (alive = false));
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (!alive) throw new Error(`server exited during startup:\n${this.log()}`);
      try {
        if ((await rawCommand(this.port, 'PING')) === '+PONG') return this;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`server did not answer PING within 15 s:\n${this.log()}`);
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  // SHUTDOWN [SAVE|NOSAVE] and wait for the process to exit.
  async shutdown(mode = 'NOSAVE') {
    if (!this.proc) return;
    await rawCommand(this.port, `SHUTDOWN ${mode}`).catch(() => {});
    await this.exited;
    this.proc = null;
  }

  // SIGKILL: a crash, nothing saved at exit.
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc && this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
    this.proc = null;
  }

  // Removes the temporary directory (after stop()).
  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Starts a server on a free port in a new temporary directory. `args` are appended to
// `--port N --bind 127.0.0.1 --dir DIR --save ''`.
async function startServer(args = []) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrodis-example-'));
  const server = new Server({ args, port, dir });
  return server.start();
}

module.exports = { startServer, freePort, rawCommand, sleep, serverBinary, ROOT };
