#!/usr/bin/env python3
"""Generates src/commands/docs.json, the COMMAND INFO / COMMAND DOCS data that the
command table does not hold (key specs, tips, documentation facts).

Facts (group, since, argument grammar, key specs, tips, doc flags, deprecation) are
extracted from Redis's command JSON files; the prose (summaries, key spec notes) is
Ferrodis's own, merged in from tools/summaries.tsv and tools/keyspec-notes.tsv.
Redis's summaries, complexity strings and history texts are deliberately not copied.

Usage: tools/gen-command-docs.py [REDIS_COMMANDS_DIR] > src/commands/docs.json
(default dir: /work/shared/reference/redis-7.2-commands). Development time only: the
build embeds the generated file.
"""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/reference/redis-7.2-commands"

KEY_FLAGS = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE",
             "NOT_KEY", "INCOMPLETE", "VARIABLE_FLAGS"]
# Redis prints the access kinds upper case and the rest lower case.
KEY_FLAG_NAMES = {f: (f if f in ("RO", "RW", "OW", "RM") else f.lower()) for f in KEY_FLAGS}
ARG_FLAGS = [("optional", "optional"), ("multiple", "multiple"),
             ("multiple_token", "multiple_token")]


def read_tsv(name, ncols):
    rows = []
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != ncols:
                sys.exit(f"{name}: bad line {line!r}")
            rows.append(parts)
    return rows


def arg(a):
    # Redis lower-cases argument names and upper-cases tokens when it builds its table.
    out = {"name": a["name"].lower(), "type": a["type"]}
    if "key_spec_index" in a:
        out["key_spec_index"] = a["key_spec_index"]
    if "token" in a:
        # Redis's generated C source turns the token `""` (MIGRATE's empty key) into
        # an empty string; reproduce what the server replies.
        out["token"] = "" if a["token"] == '""' else a["token"].upper()
    if "since" in a:
        out["since"] = a["since"]
    if "deprecated_since" in a:
        out["deprecated_since"] = a["deprecated_since"]
    flags = [n for k, n in ARG_FLAGS if a.get(k)]
    if flags:
        out["flags"] = flags
    if a["type"] in ("oneof", "block"):
        out["arguments"] = [arg(s) for s in a.get("arguments", [])]
    elif "display" in a:
        out["display"] = a["display"]
    return out


def key_spec(ks, note):
    flags = set(ks.get("flags", []))
    unknown = flags - set(KEY_FLAGS)
    if unknown:
        sys.exit(f"unknown key spec flags {unknown}")
    out = {}
    if note:
        out["notes"] = note
    out["flags"] = [KEY_FLAG_NAMES[f] for f in KEY_FLAGS if f in flags]
    bs = ks.get("begin_search", {})
    if "index" in bs:
        out["bs"] = {"index": bs["index"]["pos"]}
    elif "keyword" in bs:
        out["bs"] = {"keyword": bs["keyword"]["keyword"],
                     "startfrom": bs["keyword"]["startfrom"]}
    else:
        out["bs"] = {}
    fk = ks.get("find_keys", {})
    if "range" in fk:
        r = fk["range"]
        out["fk"] = {"range": [r["lastkey"], r["step"], r["limit"]]}
    elif "keynum" in fk:
        k = fk["keynum"]
        out["fk"] = {"keynum": [k["keynumidx"], k["firstkey"], k["step"]]}
    else:
        out["fk"] = {}
    return out


def main():
    summaries = {n: s for n, s in read_tsv("summaries.tsv", 2)}
    notes = {(c, int(i)): t for c, i, t in read_tsv("keyspec-notes.tsv", 3)}
    docs = {}
    for path in sorted(glob.glob(os.path.join(SRC, "*.json"))):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for name, c in data.items():
            container = c.get("container", "").lower()
            # Sentinel-only commands are not part of a data server.
            if "ONLY_SENTINEL" in c.get("command_flags", []) or container == "sentinel":
                continue
            full = f"{container}|{name.lower()}" if container else name.lower()
            if full not in summaries:
                sys.exit(f"no summary for {full} in tools/summaries.tsv")
            if summaries[full].strip(". ").lower() == c.get("summary", "").strip(". ").lower():
                sys.exit(f"the summary of {full} is Redis's text: write our own")
            e = {"summary": summaries[full], "since": c["since"],
                 "group": c["group"].replace("_", "-")}
            doc_flags = [f.lower() for f in c.get("doc_flags", [])]
            if doc_flags:
                e["doc_flags"] = [f for f in ("deprecated", "syscmd") if f in doc_flags]
            if "deprecated_since" in c:
                e["deprecated_since"] = c["deprecated_since"]
            if "replaced_by" in c:
                # A pointer to the replacing command and arguments (a fact, not prose).
                e["replaced_by"] = c["replaced_by"]
            if c.get("arguments"):
                e["arguments"] = [arg(a) for a in c["arguments"]]
            specs = c.get("key_specs", [])
            if specs:
                e["key_specs"] = [key_spec(k, notes.get((full, i)))
                                  for i, k in enumerate(specs)]
            tips = [t.lower() for t in c.get("command_tips", [])]
            if tips:
                e["tips"] = tips
            docs[full] = e
    missing = set(summaries) - set(docs)
    if missing:
        sys.exit(f"summaries for unknown commands: {sorted(missing)}")
    lines = [f"{json.dumps(k)}: {json.dumps(docs[k], separators=(',', ':'))}"
             for k in sorted(docs)]
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main()
