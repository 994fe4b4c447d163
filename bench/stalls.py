#!/usr/bin/env python3
"""stalls.py - latency stalls during heavy server events, Ferrodis vs redis-server.

For each event a probe process sends a small command (GET of a short key, or PING)
back to back on its own connection and records every round trip; optionally a second
process keeps a moderate write load (SETs of existing 64-byte keys, one at a time) and
records its round trips too. The event runs on a third connection. Reported per event
and server: the probe's max, p99 and p99.9 during the event, the writer's p99 and
max, and the event's own duration.

Events (--events, comma-separated):
  bgsave      BGSAVE of KEYS strings (64 B) + 4 collections of MEMBERS/10 elements,
              with write load; ends when rdb_bgsave_in_progress is 0
  aofrw       BGREWRITEAOF with appendonly yes on KEYS strings, with write load;
              ends when aof_rewrite_in_progress and aof_rewrite_scheduled are 0
  del         DEL of a MEMBERS-element set / hash / zset / list (one row each);
              the duration is the DEL's own round trip
  unlink      UNLINK of the same
  flushasync  FLUSHALL ASYNC of KEYS strings
  flushsync   FLUSHALL SYNC of KEYS strings (for comparison, not a target)
  expire      KEYS strings all SET with the same PXAT a few seconds ahead (active
              expiry off meanwhile: DEBUG SET-ACTIVE-EXPIRE 0); once they have all
              expired active expiry goes on, and the event runs until DBSIZE is back
              to 1 (the probe's key): active expiry reclaimed them all

Servers are started by the script on free ports (each event on a fresh server, in a
temporary directory, removed afterwards):
  ferrodis: FERRODIS_BIN (default target/fastrel/ferrodis-server) --save ''
  redis:    /usr/bin/redis-server --save '' --appendonly no

Usage:
  bench/stalls.py [--keys N] [--members N] [--events a,b] [--servers ferrodis,redis]
                  [--repeat R] [--no-load] [--probe get|ping] [--port-base P]
A quick run: bench/stalls.py --keys 100000 --members 100000
Measure with an optimised build: cargo build --profile fastrel.
"""
import argparse
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ RESP client

def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ConnectionError("connection closed")
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def read(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b":"):
            return line[1:] if t == b"+" else int(line[1:])
        if t == b"-":
            return RuntimeError(line[1:].decode())
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return v
        if t == b"*":
            n = int(line[1:])
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.s.sendall(enc(*args))
        r = self.read()
        if isinstance(r, RuntimeError):
            raise r
        return r

    def pipeline(self, cmds):
        self.s.sendall(b"".join(enc(*c) for c in cmds))
        out = [self.read() for _ in cmds]
        for r in out:
            if isinstance(r, RuntimeError):
                raise r
        return out

    def info(self, section):
        text = self.call("INFO", section).decode()
        d = {}
        for line in text.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                d[k] = v
        return d

    def close(self):
        self.s.close()


# ------------------------------------------------------------------ servers

def free_port(start):
    p = start
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                p += 1


class Server:
    def __init__(self, kind, port, extra=()):
        self.kind = kind
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="stalls-%s-" % kind)
        if kind == "ferrodis":
            binary = os.environ.get("FERRODIS_BIN", os.path.join(ROOT, "target/fastrel/ferrodis-server"))
            argv = [binary, "--port", str(port), "--save", "", "--appendonly", "no",
                    "--dir", self.dir, "--enable-debug-command", "yes"]
        else:
            argv = ["/usr/bin/redis-server", "--port", str(port), "--save", "",
                    "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                    "--enable-debug-command", "yes"]
        argv += list(extra)
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                c = Conn(port)
                if c.call("PING") == b"PONG":
                    c.close()
                    break
            except (OSError, RuntimeError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("%s did not start (see %s)" % (kind, argv))
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ probe and load

def probe_proc(port, mode, stop, ready, out):
    """Back-to-back GET probe (or PING); sends (start_ns, rtt_ns) pairs at the end."""
    c = Conn(port)
    req = enc("GET", "probe:key") if mode == "get" else enc("PING")
    c.call("SET", "probe:key", "x" * 16)
    starts, rtts = [], []
    mono = time.monotonic_ns
    s = c.s
    ready.set()
    while not stop.is_set():
        t = mono()
        s.sendall(req)
        c.read()
        rtts.append(mono() - t)
        starts.append(t)
    out.send((starts, rtts))
    out.close()


def load_proc(port, keys, stop, ready, out):
    """SETs of random existing `key:N` strings (64 B), one at a time."""
    import random
    c = Conn(port)
    val = b"v" * 64
    starts, rtts = [], []
    mono = time.monotonic_ns
    rnd = random.Random(7)
    ready.set()
    while not stop.is_set():
        k = b"key:%d" % rnd.randrange(max(1, keys))
        req = enc(b"SET", k, val)
        t = mono()
        c.s.sendall(req)
        c.read()
        rtts.append(mono() - t)
        starts.append(t)
    out.send((starts, rtts))
    out.close()


class Watchers:
    def __init__(self, port, probe_mode, load_keys):
        ctx = mp.get_context("fork")
        self.stop = ctx.Event()
        self.procs = []
        readies = []
        for target, arg in [(probe_proc, probe_mode)] + ([(load_proc, load_keys)] if load_keys else []):
            ready = ctx.Event()
            rx, tx = ctx.Pipe(duplex=False)
            p = ctx.Process(target=target, args=(port, arg, self.stop, ready, tx), daemon=True)
            p.start()
            tx.close()
            self.procs.append((p, rx))
            readies.append(ready)
        for r in readies:
            r.wait(10)

    def finish(self):
        self.stop.set()
        res = []
        for p, rx in self.procs:
            res.append(rx.recv())
            p.join(10)
        probe = res[0]
        load = res[1] if len(res) > 1 else None
        return probe, load


def stats(samples, t0, t1):
    """max, p99, p99.9 (ms) and count of round trips overlapping [t0, t1]."""
    if samples is None:
        return None
    starts, rtts = samples
    sel = sorted(r for s, r in zip(starts, rtts) if s + r >= t0 and s <= t1)
    if not sel:
        return (0.0, 0.0, 0.0, 0)
    q = lambda p: sel[min(len(sel) - 1, int(p * len(sel)))] / 1e6
    return (sel[-1] / 1e6, q(0.99), q(0.999), len(sel))


# ------------------------------------------------------------------ data

def populate(c, keys):
    if keys:
        c.call("DEBUG", "POPULATE", keys, "key", 64)


def build_collection(c, kind, key, n, batch=5000):
    for i in range(0, n, batch):
        j = min(n, i + batch)
        if kind == "set":
            cmd = ["SADD", key] + ["m%d" % x for x in range(i, j)]
        elif kind == "hash":
            cmd = ["HSET", key]
            for x in range(i, j):
                cmd += ["f%d" % x, "v%d" % x]
        elif kind == "zset":
            cmd = ["ZADD", key]
            for x in range(i, j):
                cmd += [str(x), "m%d" % x]
        else:
            cmd = ["RPUSH", key] + ["e%d" % x for x in range(i, j)]
        c.call(*cmd)


def wait_info(c, section, fields, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        i = c.info(section)
        if all(i.get(f, "0") == "0" for f in fields):
            return
        time.sleep(0.01)
    raise RuntimeError("timeout waiting for %s" % fields)


# ------------------------------------------------------------------ events
# Each returns a list of (label, t0, t1) windows, run between Watchers start/finish.

def ev_bgsave(c, a):
    t0 = time.monotonic_ns()
    c.call("BGSAVE")
    wait_info(c, "persistence", ["rdb_bgsave_in_progress"])
    return time.monotonic_ns() - t0, t0


def ev_aofrw(c, a):
    t0 = time.monotonic_ns()
    c.call("BGREWRITEAOF")
    wait_info(c, "persistence", ["aof_rewrite_in_progress", "aof_rewrite_scheduled"])
    return time.monotonic_ns() - t0, t0


def ev_cmd(*cmd):
    def run(c, a):
        t0 = time.monotonic_ns()
        c.call(*cmd)
        return time.monotonic_ns() - t0, t0
    return run


def steal_ms():
    """CPU time the hypervisor gave to other guests (all CPUs, /proc/stat 'steal'), ms:
    a stall that coincides with steal is the VM's, not the server's."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * 1000 // os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0


def run_event(kind, event, a, port):
    extra = []
    if event == "aofrw":
        extra = ["--appendonly", "yes"]
    srv = Server(kind, port, extra)
    rows = []
    try:
        c = Conn(port)
        if event == "aofrw":
            wait_info(c, "persistence", ["aof_rewrite_in_progress", "aof_rewrite_scheduled"])
        load_keys = 0
        if event in ("bgsave", "aofrw"):
            populate(c, a.keys)
            if event == "bgsave":
                for kind_ in ("set", "hash", "zset", "list"):
                    build_collection(c, kind_, "big:" + kind_, a.members // 10)
            load_keys = 0 if a.no_load else a.keys
            runs = [(event, ev_bgsave if event == "bgsave" else ev_aofrw, None)]
        elif event in ("del", "unlink"):
            runs = []
            for kind_ in ("set", "hash", "zset", "list"):
                runs.append(("%s %s" % (event, kind_), ev_cmd(event.upper(), "big:" + kind_), kind_))
        elif event in ("flushasync", "flushsync"):
            populate(c, a.keys)
            runs = [(event, ev_cmd("FLUSHALL", "ASYNC" if event == "flushasync" else "SYNC"), None)]
        else:
            runs = [("expire", None, None)]
        for label, fn, coll in runs:
            if coll:
                build_collection(c, coll, "big:" + coll, a.members)
            if label == "expire":
                # Active expiry stays off while the keys are set (a SET whose PXAT has
                # passed deletes the key at once), and goes on when all have expired.
                c.call("DEBUG", "SET-ACTIVE-EXPIRE", 0)
                at = int(time.time() * 1000) + 2000 + a.keys // 50
                val = "v" * 64
                b = 2000
                for i in range(0, a.keys, b):
                    c.pipeline([("SET", "key:%d" % x, val, "PXAT", at) for x in range(i, min(a.keys, i + b))])
                if c.call("DBSIZE") < a.keys:
                    print("# warning: keys expired while being set; raise the lead time", flush=True)
                w = Watchers(port, a.probe, 0)
                while time.time() * 1000 < at + 10:
                    time.sleep(0.001)
                time.sleep(0.3)
                st0 = steal_ms()
                t0 = time.monotonic_ns()
                c.call("DEBUG", "SET-ACTIVE-EXPIRE", 1)
                deadline = time.time() + 300
                # Only the probe's own key has no TTL.
                while c.call("DBSIZE") > 1 and time.time() < deadline:
                    time.sleep(0.02)
                dur = time.monotonic_ns() - t0
            else:
                w = Watchers(port, a.probe, load_keys)
                time.sleep(0.3)
                st0 = steal_ms()
                dur, t0 = fn(c, a)
            t1 = t0 + dur
            steal = steal_ms() - st0
            time.sleep(0.2)
            probe, load = w.finish()
            rows.append((label, stats(probe, t0, t1), stats(load, t0, t1), dur / 1e6, steal))
        c.close()
    finally:
        srv.stop()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--events", default="bgsave,aofrw,del,unlink,flushasync,flushsync,expire")
    ap.add_argument("--servers", default="ferrodis,redis")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-load", action="store_true")
    ap.add_argument("--probe", choices=["get", "ping"], default="get")
    ap.add_argument("--port-base", type=int, default=7700)
    a = ap.parse_args()
    results = {}
    for rep in range(a.repeat):
        for event in a.events.split(","):
            for kind in a.servers.split(","):
                port = free_port(a.port_base)
                for label, p, l, dur, steal in run_event(kind, event, a, port):
                    results.setdefault((label, kind), []).append((p, l, dur))
                    ms = lambda s: "%.1f/%.1f/%.1f" % (s[0], s[2], s[1]) if s else "-"
                    print("# run %d %-12s %-8s probe max/p99.9/p99 %s  write %s  event %.0f ms  steal %d ms"
                          % (rep + 1, label, kind, ms(p), ms(l), dur, steal), flush=True)
    print()
    print("%-12s %-8s | %-24s | %-20s | %s" % ("event", "server", "probe ms max p99.9 p99", "write ms max p99", "event ms"))
    print("-" * 84)
    for (label, kind), runs in results.items():
        for p, l, dur in runs:
            ws = "%7.1f %7.2f" % (l[0], l[1]) if l else "%7s %7s" % ("-", "-")
            print("%-12s %-8s | %7.1f %7.2f %7.2f | %s      | %8.0f" % (label, kind, p[0], p[2], p[1], ws, dur))


if __name__ == "__main__":
    main()
