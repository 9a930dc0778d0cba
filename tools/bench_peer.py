#!/usr/bin/env python3
"""The Python peer of the engine benchmark: the original NEDB package (`pip install
nedb-engine`), both its pure-Python engine (`nedb.NEDB`) and its Rust core (`nedb._native.NedbCore`),
run on the same data and operation mix as `nedb-bench engine` (written by `nedb-bench dataset`).

One invocation runs one round of every workload for each available engine and appends one JSON
line per measurement to --json, in the format of nedb-bench. tools/bench.sh interleaves rounds
of this script with rounds of nedb-bench and tools/bench_report.py summarises them.
"""
import argparse
import json
import os
import random
import shutil
import sys
import time


def load_dataset(directory):
    def ndjson(name):
        with open(os.path.join(directory, name), encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    spec = ndjson("workloads.json")[0]
    return ndjson("users.ndjson"), ndjson("updates.ndjson"), ndjson("events.ndjson"), spec


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


class PurePython:
    """nedb.NEDB: the pure-Python engine (JSON AOF, fsync per write unless deferred)."""
    name = "nedb-engine (Python)"

    def __init__(self):
        import nedb
        self.nedb = nedb

    def open(self, path=None):
        return self.nedb.NEDB(path) if path else self.nedb.NEDB()

    def indexes(self, db):
        db.create_index("users", "status", "eq")
        db.create_index("users", "age", "ordered")
        db.create_index("users", "bio", "search")

    def put(self, db, coll, id, doc, caused_by=None):
        if caused_by is None:
            return db.put(coll, id, doc)
        return db.put(coll, id, doc, caused_by=caused_by)

    def seq(self, db):
        return db.seq

    def get(self, db, id, as_of=None):
        return db.get("users", id, as_of=as_of) if as_of is not None else db.get("users", id)

    def defer_sync(self, db, on):
        db._defer_sync = on          # what the package's own group-commit Sequencer does

    def flush(self, db):
        db.flush()

    def close(self, db):
        db.close()

    supports_trace = True


class Native:
    """nedb._native.NedbCore: the package's compiled Rust core."""
    name = "nedb-engine (native)"

    def __init__(self):
        from nedb import _native
        self.core = _native.NedbCore
        self.core()                  # raises when the native core is unavailable

    def open(self, path=None):
        return self.core.open(path) if path else self.core()

    def indexes(self, db):
        db.create_index("users", "status", "eq")
        db.create_index("users", "age", "ordered")
        db.create_index("users", "bio", "search")

    def put(self, db, coll, id, doc, caused_by=None):
        return db.put(coll, id, json.dumps(doc))

    def seq(self, db):
        return db.seq()

    def get(self, db, id, as_of=None):
        return db.get("users", id, as_of) if as_of is not None else db.get("users", id)

    def defer_sync(self, db, on):
        pass

    def flush(self, db):
        db.flush()

    def close(self, db):
        db.flush()

    supports_trace = False           # NedbCore.put takes no caused_by


# Each timed loop stops after this many seconds (having done at least a few operations) and
# reports the rate over what it did: some peer operations take seconds each at 100K documents.
BUDGET = 3.0


def run_round(engine, users, updates, events, spec, scratch, round_no, emit):
    rng = random.Random(42 + round_no)
    loaded = os.path.join(scratch, "loaded")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)

    def measure(workload, unit, value):
        emit({"suite": "engine", "workload": workload, "system": engine.name, "round": round_no,
              "value": value, "unit": unit, "documents": spec["count"]})

    # Writes.
    path = os.path.join(scratch, "durable")
    db = engine.open(path)
    engine.indexes(db)
    n = 0
    t = time.perf_counter()
    for u in users[:spec["durable_puts"]]:
        engine.put(db, "users", u["id"], u["doc"])
        engine.flush(db)             # fsync per put (the Python engine already fsyncs each put)
        n += 1
        if n >= 20 and time.perf_counter() - t > BUDGET:
            break
    measure("put_durable", "ops/s", n / (time.perf_counter() - t))
    engine.close(db)

    path = os.path.join(scratch, "batches")
    db = engine.open(path)
    engine.indexes(db)
    size, batches = spec["batch_size"], spec["batches"]
    engine.defer_sync(db, True)
    done = 0
    t = time.perf_counter()
    for b in range(batches):
        for u in users[b * size:(b + 1) * size]:
            engine.put(db, "users", u["id"], u["doc"])
        engine.flush(db)
        done += size
        if time.perf_counter() - t > BUDGET:
            break
    measure("put_batch", "ops/s", done / (time.perf_counter() - t))
    engine.close(db)

    db = engine.open()
    engine.indexes(db)
    n = spec["memory_puts"]
    t = time.perf_counter()
    for u in users[:n]:
        engine.put(db, "users", u["id"], u["doc"])
    measure("put_memory", "ops/s", n / (time.perf_counter() - t))

    # The loaded database: users, updates, events (untimed).
    db = engine.open(loaded)
    engine.indexes(db)
    engine.defer_sync(db, True)
    for u in users:
        engine.put(db, "users", u["id"], u["doc"])
    snapshot = engine.seq(db)
    for u in updates:
        engine.put(db, "users", u["id"], u["doc"])
    event_seqs = []
    for e in events:
        cause = [event_seqs[e["cause"]]] if "cause" in e else None
        engine.put(db, "events", e["id"], e["doc"], caused_by=cause)
        event_seqs.append(engine.seq(db))
    engine.flush(db)
    engine.defer_sync(db, False)

    # Reads: rates over a bounded number of calls (the Python engine is slow).
    gets = max(10_000, spec["gets"] // 20)
    ids = [users[rng.randrange(len(users))]["id"] for _ in range(4096)]
    t = time.perf_counter()
    for i in range(gets):
        engine.get(db, ids[i & 4095])
    measure("get_head", "ops/s", gets / (time.perf_counter() - t))
    ids = [updates[rng.randrange(len(updates))]["id"] for _ in range(4096)]
    t = time.perf_counter()
    for i in range(gets // 2):
        engine.get(db, ids[i & 4095], as_of=snapshot)
    measure("get_as_of", "ops/s", (gets // 2) / (time.perf_counter() - t))

    def queries(workload, texts, count):
        for q in texts:
            db.query(q)              # warm, as on the NEDB side
        done = 0
        t = time.perf_counter()
        for i in range(count):
            db.query(texts[i % len(texts)])
            done += 1
            if done >= 3 and time.perf_counter() - t > BUDGET:
                break
        measure(workload, "µs", (time.perf_counter() - t) / done * 1e6)

    count = max(20, spec["queries"] // 10)
    queries("query_eq", spec["eq_queries"], count)
    queries("query_range", spec["range_queries"], count)
    queries("query_search", spec["search_queries"], count)
    queries("query_group", [spec["group_query"]], max(5, count // 10))
    if engine.supports_trace:
        queries("query_trace", spec["trace_queries"], count)

    engine.close(db)
    del db
    t = time.perf_counter()
    db = engine.open(loaded)
    engine.get(db, "user1")
    measure("open", "ms", (time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    ok = db.verify()
    measure("verify", "ms", (time.perf_counter() - t) * 1000)
    if not ok:
        print(f"{engine.name}: verify() returned False", file=sys.stderr)
    engine.close(db)
    measure("size", "bytes", dir_bytes(loaded))
    shutil.rmtree(scratch, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--json", required=True, help="append measurements here (JSON lines)")
    parser.add_argument("--round", type=int, default=0)
    args = parser.parse_args()
    users, updates, events, spec = load_dataset(args.dataset)
    engines = []
    for kind in (PurePython, Native):
        try:
            engines.append(kind())
        except Exception as exc:     # the package or its native core is missing: say so, go on
            print(f"bench_peer: {kind.name} unavailable: {exc}", file=sys.stderr)
    with open(args.json, "a", encoding="utf-8") as out:
        def emit(record):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
        for engine in engines:
            started = time.perf_counter()
            run_round(engine, users, updates, events, spec, os.path.join(args.scratch, engine.name.split()[-1].strip("()")),
                      args.round, emit)
            print(f"bench_peer: {engine.name} round {args.round} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
