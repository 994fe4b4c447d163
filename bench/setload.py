#!/usr/bin/env python3
"""setload.py PORT KEYS SIZE SECONDS_MAX STOPFILE - a steady write load for benchmarks.

Overwrites random existing keys `key:N` (N < KEYS, the names DEBUG POPULATE creates)
with SIZE-byte values over one connection, in pipelined batches of 32 SETs, until
STOPFILE exists (or SECONDS_MAX pass). Prints the number of SETs, their rate, and the
round-trip time of the batches (p50, p99, max, in ms): the max is the longest stall a
client saw.
"""
import os, random, socket, sys, time

port, keys, size, secs, stop = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
val = b"x" * size
BATCH = 32
lat, ops, t0 = [], 0, time.time()
while not os.path.exists(stop) and time.time() - t0 < secs:
    cmds = []
    for _ in range(BATCH):
        k = b"key:%d" % random.randrange(keys)
        cmds.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, val))
    b0 = time.perf_counter()
    s.sendall(b"".join(cmds))
    got = 0
    buf = b""
    while got < BATCH:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        buf += d
        got = buf.count(b"\r\n")
    lat.append((time.perf_counter() - b0) * 1000)
    ops += BATCH
el = time.time() - t0
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0
print(f"sets {ops} rate {ops/el:.0f}/s batch-rtt-ms p50 {q(0.5):.2f} p99 {q(0.99):.2f} max {lat[-1] if lat else 0:.2f}")
