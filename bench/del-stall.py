#!/usr/bin/env python3
# del-stall.py PORT DEL|UNLINK N - builds an N-member set, then deletes it with DEL or
# UNLINK while a second connection sends PINGs back to back; prints how long the
# delete took and the worst PING round trip meanwhile (the stall other clients see).
# Max latency of PINGs from one client while another deletes a big set (DEL vs UNLINK).
import socket, sys, time, threading
port = int(sys.argv[1]); cmd = sys.argv[2]; n = int(sys.argv[3])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return s
def call(s, *args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    s.sendall(out)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(65536)
    return buf
a = conn()
call(a, b"FLUSHALL")
# build the set in batches
batch = 10000
for i in range(0, n, batch):
    call(a, b"SADD", b"big", *[b"m%d" % j for j in range(i, min(n, i + batch))])
stop = False; worst = [0.0]
def pinger():
    p = conn()
    while not stop:
        t = time.perf_counter(); call(p, b"PING"); d = time.perf_counter() - t
        worst[0] = max(worst[0], d)
th = threading.Thread(target=pinger); th.start()
time.sleep(0.3); worst[0] = 0.0
t = time.perf_counter(); call(a, cmd.encode(), b"big"); dt = time.perf_counter() - t
time.sleep(0.3); stop = True; th.join()
print(f"{cmd} of {n}-member set: command took {dt*1000:.1f} ms, worst concurrent PING {worst[0]*1000:.1f} ms")
