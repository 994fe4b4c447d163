#!/usr/bin/env python3
"""Helpers for bench/suite.sh: RESP load generation and the result tables.

  suitelib.py gen OUT KIND ARGS...     write a RESP command stream to OUT and the number
                                       of commands to OUT.count (for redis-cli --pipe)
  suitelib.py parse FILE               redis-benchmark (non-csv) output -> "rps p50 p99 p99.9"
  suitelib.py report SAMPLES.tsv       throughput table (markdown)
  suitelib.py memreport MEM.tsv        memory-per-element table (markdown)
  suitelib.py scalereport SCALE.tsv    scaling table (markdown)

Generator kinds (deterministic content; keys match redis-benchmark's __rand_int__
format `%012d` where the suite reads them):
  str FMT COUNT SIZE               SET FMT%i <SIZE x's>
  hash KEY COUNT SIZE              one hash, fields field:%012d, values of SIZE bytes
  set KEY COUNT                    one set, members element:%012d
  zset KEY COUNT                   one sorted set, member element:%012d score i
  list KEY COUNT SIZE              one list (RPUSH), elements of SIZE bytes
  stream KEY COUNT SIZE            one stream, COUNT x XADD KEY * f <SIZE bytes>
  bits KEY BYTES                   SET KEY <BYTES pseudo-random bytes>
  geo KEY COUNT                    GEOADD KEY lon lat member:%012d, lon in [13,14), lat in [52,53)
  hashes FMT COUNT N               COUNT hashes of N fields f<j> -> v<7 digits>
  sets FMT COUNT N                 COUNT sets of N members m<7 digits> (strings)
  intsets FMT COUNT N              COUNT sets of N integer members
  zsets FMT COUNT N                COUNT sorted sets of N members m<7 digits>, scores j
  lists FMT COUNT N                COUNT lists of N elements v<7 digits>
  streams FMT COUNT N              COUNT streams of N entries XADD key * f v<7 digits>
Big collections are written 100 elements per command.
"""
import random
import re
import statistics
import sys

BATCH = 100


def cmd(parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        if isinstance(p, str):
            p = p.encode()
        elif isinstance(p, int):
            p = b"%d" % p
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def gen(path, kind, args):
    n_cmds = 0
    with open(path, "wb", buffering=1 << 20) as f:
        w = f.write

        def emit(parts):
            nonlocal n_cmds
            w(cmd(parts))
            n_cmds += 1

        def batched(key, verb, count, item):
            for start in range(0, count, BATCH):
                parts = [verb, key]
                for i in range(start, min(count, start + BATCH)):
                    parts.extend(item(i))
                emit(parts)

        if kind == "str":
            fmt, count, size = args[0], int(args[1]), int(args[2])
            v = b"x" * size
            pre = b"*3\r\n$3\r\nSET\r\n"
            vs = b"$%d\r\n%s\r\n" % (len(v), v)
            for i in range(count):
                k = (fmt % i).encode()
                w(pre + b"$%d\r\n%s\r\n" % (len(k), k) + vs)
            n_cmds = count
        elif kind == "hash":
            key, count, size = args[0], int(args[1]), int(args[2])
            v = b"x" * size
            batched(key, "HSET", count, lambda i: ("field:%012d" % i, v))
        elif kind == "set":
            key, count = args[0], int(args[1])
            batched(key, "SADD", count, lambda i: ("element:%012d" % i,))
        elif kind == "zset":
            key, count = args[0], int(args[1])
            batched(key, "ZADD", count, lambda i: (i, "element:%012d" % i))
        elif kind == "list":
            key, count, size = args[0], int(args[1]), int(args[2])
            v = b"x" * size
            batched(key, "RPUSH", count, lambda i: (v,))
        elif kind == "stream":
            key, count, size = args[0], int(args[1]), int(args[2])
            v = b"x" * size
            for _ in range(count):
                emit(["XADD", key, "*", "f", v])
        elif kind == "bits":
            key, nbytes = args[0], int(args[1])
            rnd = random.Random(9)
            emit(["SET", key, bytes(rnd.getrandbits(8) for _ in range(nbytes))])
        elif kind == "geo":
            key, count = args[0], int(args[1])
            rnd = random.Random(7)
            pts = [("%.6f" % (13 + rnd.random()), "%.6f" % (52 + rnd.random())) for _ in range(count)]
            batched(key, "GEOADD", count, lambda i: (pts[i][0], pts[i][1], "member:%012d" % i))
        elif kind in ("hashes", "sets", "intsets", "zsets", "lists", "streams"):
            fmt, count, n = args[0], int(args[1]), int(args[2])
            for i in range(count):
                k = fmt % i
                base = i * n
                if kind == "hashes":
                    parts = ["HSET", k]
                    for j in range(n):
                        parts += ["f%d" % j, "v%07d" % ((base + j) % 10**7)]
                elif kind == "sets":
                    parts = ["SADD", k] + ["m%07d" % ((base + j) % 10**7) for j in range(n)]
                elif kind == "intsets":
                    parts = ["SADD", k] + [base + j for j in range(n)]
                elif kind == "zsets":
                    parts = ["ZADD", k]
                    for j in range(n):
                        parts += [j, "m%07d" % ((base + j) % 10**7)]
                elif kind == "lists":
                    parts = ["RPUSH", k] + ["v%07d" % ((base + j) % 10**7) for j in range(n)]
                else:  # streams
                    for j in range(n):
                        emit(["XADD", k, "*", "f", "v%07d" % ((base + j) % 10**7)])
                    continue
                emit(parts)
        else:
            sys.exit("unknown generator kind " + kind)
    with open(path + ".count", "w") as f:
        f.write("%d\n" % n_cmds)


def parse(path):
    """rps, p50, p99 (summary line) and p99.9 (first percentile line >= 99.9%)."""
    text = open(path, "rb").read().decode("utf-8", "replace").replace("\r", "\n")
    rps = p50 = p99 = p999 = "NA"
    m = re.search(r"throughput summary: ([0-9.]+) requests per second", text)
    if m:
        rps = m.group(1)
    m = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)", text)
    if m:
        p50, p99 = m.group(3), m.group(5)
    sect = text.split("Latency by percentile distribution:", 1)
    if len(sect) == 2:
        for line in sect[1].split("\n"):
            m = re.match(r"\s*([0-9.]+)% <= ([0-9.]+) milliseconds", line)
            if m and float(m.group(1)) >= 99.9:
                p999 = m.group(2)
                break
            if line.startswith("Cumulative"):
                break
    print(rps, p50, p99, p999)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def fmt_int(x):
    return "NA" if x is None else f"{x:,.0f}"


def fmt_f(x, d=2):
    return "NA" if x is None else f"{x:.{d}f}"


def paired(rows, name, col, rounds):
    """median (min-max) of per-round ratios F/R of column col."""
    rs = []
    for r in rounds:
        a, b = rows.get((name, "F", r)), rows.get((name, "R", r))
        if a and b:
            x, y = num(a[col]), num(b[col])
            if x is not None and y:
                rs.append(x / y)
    if not rs:
        return "NA"
    m = statistics.median(rs)
    return f"{m:.2f}" if len(rs) == 1 else f"{m:.2f} ({min(rs):.2f}-{max(rs):.2f})"


def report(path):
    # columns: scenario side round status rps p50 p99 p999 cpu_us bg n secs
    rows, order, bad = {}, [], {}
    for line in open(path):
        c = line.rstrip("\n").split("\t")
        if len(c) < 12:
            continue
        name, side, rnd, st = c[0], c[1], int(c[2]), c[3]
        if name not in order:
            order.append(name)
        if st == "redo":  # contaminated by other processes and measured again
            continue
        if st != "ok":
            bad[name] = bad.get(name, 0) + 1
            continue
        rows[(name, side, rnd)] = {"rps": c[4], "p50": c[5], "p99": c[6], "p999": c[7], "cpu": c[8], "bg": c[9]}
    rounds = sorted({k[2] for k in rows})
    print("| scenario | Ferrodis ops/s | Redis ops/s | ratio | CPU µs/req F / R | CPU ratio | p50 ms F / R | p99 ms F / R | p99.9 ms F / R |")
    print("| --- | ---: | ---: | --- | --- | --- | --- | --- | --- |")
    for name in order:
        def col(side, key):
            return med([num(rows[(name, side, r)][key]) for r in rounds if (name, side, r) in rows])
        def pair(key, d):
            return f"{fmt_f(col('F', key), d)} / {fmt_f(col('R', key), d)}"
        flag = ""
        if bad.get(name):
            flag += f" ({bad[name]} failed)"
        if any(num(v["bg"]) is not None and num(v["bg"]) > 25 for k, v in rows.items() if k[0] == name):
            flag += " *"
        print(f"| {name}{flag} | {fmt_int(col('F', 'rps'))} | {fmt_int(col('R', 'rps'))} | {paired(rows, name, 'rps', rounds)} "
              f"| {pair('cpu', 2)} | {paired(rows, name, 'cpu', rounds)} | {pair('p50', 3)} | {pair('p99', 3)} | {pair('p999', 3)} |")


def memreport(path):
    # columns: load side keys elems used0 used1 rss0 rss1 secs
    data, order = {}, []
    for line in open(path):
        c = line.rstrip("\n").split("\t")
        if len(c) < 9:
            continue
        if c[0] not in order:
            order.append(c[0])
        data[(c[0], c[1])] = c
    print("| load | keys | elements | used_memory B/elem F / R | ratio | RSS B/elem F / R | ratio | load s F / R |")
    print("| --- | ---: | ---: | --- | --- | --- | --- | --- |")
    for name in order:
        f, r = data.get((name, "F")), data.get((name, "R"))
        def per(c, i0, i1):
            return (int(c[i1]) - int(c[i0])) / max(1, int(c[3])) if c else None
        uf, ur = per(f, 4, 5), per(r, 4, 5)
        rf, rr = per(f, 6, 7), per(r, 6, 7)
        some = f or r
        ratio = lambda a, b: f"{a / b:.2f}" if a is not None and b else "NA"
        print(f"| {name} | {int(some[2]):,} | {int(some[3]):,} | {fmt_f(uf, 1)} / {fmt_f(ur, 1)} | {ratio(uf, ur)} "
              f"| {fmt_f(rf, 1)} / {fmt_f(rr, 1)} | {ratio(rf, rr)} | {f[8] if f else 'NA'} / {r[8] if r else 'NA'} |")


def scalereport(path):
    # columns: config workload round status rps cpu_us
    vals, configs, loads = {}, [], []
    for line in open(path):
        c = line.rstrip("\n").split("\t")
        if len(c) < 6 or c[3] != "ok":
            continue
        if c[0] not in configs:
            configs.append(c[0])
        if c[1] not in loads:
            loads.append(c[1])
        vals.setdefault((c[0], c[1]), []).append((num(c[4]), num(c[5])))
    print("| workload | " + " | ".join(configs) + " | Ferrodis 2/1 | Redis 2/1 |")
    print("| --- | " + " | ".join("---:" for _ in configs) + " | ---: | ---: |")
    for w in loads:
        cells, m = [], {}
        for cfg in configs:
            v = vals.get((cfg, w), [])
            m[cfg] = med([x[0] for x in v])
            cpu = med([x[1] for x in v])
            cells.append(f"{fmt_int(m[cfg])} ({fmt_f(cpu, 2)} µs)")
        def sp(a, b):
            return f"{m[a] / m[b]:.2f}" if m.get(a) and m.get(b) else "NA"
        print(f"| {w} | " + " | ".join(cells) + f" | {sp('Ferrodis w2', 'Ferrodis w1')} | {sp('Redis io2', 'Redis io1')} |")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    op = sys.argv[1]
    if op == "gen":
        gen(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif op == "parse":
        parse(sys.argv[2])
    elif op == "report":
        report(sys.argv[2])
    elif op == "memreport":
        memreport(sys.argv[2])
    elif op == "scalereport":
        scalereport(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
