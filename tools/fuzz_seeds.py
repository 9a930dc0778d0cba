#!/usr/bin/env python3
"""Seed corpora for tools/fuzz.sh, from the golden fixtures and the spec's test vectors."""
import json, os, sys, glob

out = sys.argv[1]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
fixtures = os.path.join(root, "fixtures")
vectors = os.path.join(root, "spec", "vectors")

def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

def read(path):
    with open(path, "rb") as f:
        return f.read()

def walk(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)

# Whole segment files (the largest are cut: libFuzzer mutates from there), record frames, blocks.
for i, path in enumerate(sorted(glob.glob(os.path.join(fixtures, "*", "segments", "*.nseg")))):
    data = read(path)
    put("segment", "fixture-%d" % i, data[:65536])
    if len(data) > 128:
        put("record", "fixture-%d" % i, data[128:128 + 2048])
        put("block", "fixture-%d" % i, data[128:128 + 65536])
for name in ("records.json", "segment.json", "encryption.json", "checkpoint.json", "notes.json", "jcs.json"):
    doc = json.load(open(os.path.join(vectors, name)))
    for j, (k, v) in enumerate(walk(doc)):
        if not isinstance(v, str):
            continue
        if k.endswith("_hex") or k in ("frame", "body", "segment", "compressed"):
            try:
                b = bytes.fromhex(v)
            except ValueError:
                continue
            target = {"frame": "record", "body": "record", "segment": "segment", "compressed": "segment",
                      "checkpoint_hex": "checkpoint", "state_encoding_hex": "checkpoint", "keys_file_hex": "keys"}.get(k, "record")
            put(target, "%s-%d" % (name, j), b)
        if k in ("signed_note", "note", "checkpoint_text"):
            put("note", "%s-%d" % (name, j), v)
        if k in ("input", "canonical"):
            put("json", "%s-%d" % (name, j), v)
for path in glob.glob(os.path.join(fixtures, "*", "MANIFEST")):
    put("manifest", path.replace(os.sep, "_"), read(path))
for path in glob.glob(os.path.join(fixtures, "*", "REPLAY")):
    put("replay", path.replace(os.sep, "_"), read(path))
for path in glob.glob(os.path.join(fixtures, "*", "KEYS")) + [os.path.join(fixtures, "encrypted.key")]:
    put("keys", path.replace(os.sep, "_"), read(path))
for path in glob.glob(os.path.join(fixtures, "*", "checkpoints", "*.nckp")):
    put("checkpoint", path.replace(os.sep, "_"), read(path)[:65536])
# Proofs and queries.
for path in glob.glob(os.path.join(root, "tools", "fuzz", "seeds", "*", "*")):
    put(os.path.basename(os.path.dirname(path)), os.path.basename(path), read(path))
queries = [
    'FROM users WHERE status = "active" ORDER BY age ASC', 'FROM users SEARCH "rust"', 'FROM users GROUP BY status COUNT',
    'FROM policy VALID AS OF "2024-06-15"', 'FROM beliefs WHERE _id = "dark_mode" TRACE caused_by',
    'FROM inputs WHERE _id = "msg_1" TRACE caused_by REVERSE', 'FROM users WHERE _id = "alice" TRAVERSE follows',
    'FROM policy AS OF 200 VALID AS OF "2024-02-15"', 'FROM u WHERE (a = 1 OR NOT b IN (1, 2)) AND EXISTS c.d LIMIT 3 OFFSET 1',
    'FROM u WHERE _time > "2024-01-01" ORDER BY n DESC, m ASC', 'FROM u GROUP BY k SUM n', 'FROM u WHERE `order` = 1',
]
for i, q in enumerate(queries):
    put("nql", "q%d" % i, q)
for t in ("record", "segment", "block", "manifest", "replay", "keys", "checkpoint", "proof", "note", "json", "nql"):
    os.makedirs(os.path.join(out, t), exist_ok=True)
