#!/usr/bin/env python3
"""A hostile-input campaign against the built tools (issue 12): malformed NQL, JSON, ids, flags
and proof files, and damaged stores through nedb, nedb-verify, nedb-dump, nedb-repair and
nedb-compact. Every run is classified:

  crash                the process died of a signal (or exited >= 128)
  hang                 it did not finish within the time limit
  accepted-but-wrong   it exited 0 where the input is known to be invalid or the store damaged,
                       or its answer differs from the undamaged store's
  ok                   anything else (a refusal with the documented exit code)

Usage: tools/hostile_campaign.py [--bin DIR] [--seed N] [--rounds N]
Prints the counts; exits 1 if any crash, hang or accepted-but-wrong run was found.
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LIMIT = 20

class Campaign:
    def __init__(self, bindir):
        self.bindir = bindir
        self.counts = {"crash": 0, "hang": 0, "accepted-but-wrong": 0, "ok": 0}
        self.failures = []

    def record(self, kind, what):
        self.counts[kind] += 1
        if kind != "ok":
            self.failures.append((kind, what))

    def run(self, tool, argv, expect, what, stdin=None, check=None):
        """Runs a tool; `expect` is the set of acceptable exit codes (0 only if valid)."""
        try:
            p = subprocess.run([os.path.join(self.bindir, tool)] + argv, input=stdin, capture_output=True, timeout=LIMIT)
        except subprocess.TimeoutExpired:
            self.record("hang", what)
            return None
        code = p.returncode
        if code < 0 or code >= 128:
            self.record("crash", "%s: signal/exit %d: %s" % (what, code, p.stderr[-300:]))
        elif code not in expect or (check is not None and not check(p)):
            self.record("accepted-but-wrong", "%s: exit %d: %s" % (what, code, (p.stderr or p.stdout)[-300:]))
        else:
            self.record("ok", what)
        return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    bindir = args.bin or subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
    rng = random.Random(args.seed)
    c = Campaign(bindir)
    work = tempfile.mkdtemp(prefix="nedb-hostile-")
    try:
        for _ in range(args.rounds):
            campaign(rng, work, c)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(c.counts.values())
    print("hostile-input campaign: %d runs: crashes %d, hangs %d, accepted-but-wrong %d, refused or answered right %d"
          % (total, c.counts["crash"], c.counts["hang"], c.counts["accepted-but-wrong"], c.counts["ok"]))
    for kind, what in c.failures[:40]:
        print("  %s: %s" % (kind, what))
    sys.exit(1 if c.counts["crash"] or c.counts["hang"] or c.counts["accepted-but-wrong"] else 0)


def campaign(rng, work, c):
    run = c.run
    db = os.path.join(work, "db")
    run("nedb", ["demo", db], {0}, "demo")

    # --- NQL: mutations of valid queries. Refused (2) or answered (0); never a crash or hang.
    valid = ['FROM users WHERE status = "active" ORDER BY age ASC', 'FROM users SEARCH "rust"',
             'FROM users GROUP BY status COUNT', 'FROM policy VALID AS OF "2024-06-15"',
             'FROM beliefs WHERE _id = "dark_mode" TRACE caused_by', 'FROM users WHERE _id = "alice" TRAVERSE follows',
             'FROM users WHERE (age > 3 OR NOT age < 1) AND EXISTS bio LIMIT 2 OFFSET 1']
    alphabet = list('()"\'`.,=<>!*&| \n\t\\') + ["AND", "OR", "NOT", "FROM", "WHERE", "IN", "LIMIT", "AS OF", "\u00e9", "\u0000", "\ud7ff"]
    queries = ["(" * 20000 + "a = 1" + ")" * 20000, "NOT " * 20000 + "a = 1", "FROM u WHERE " + " AND ".join("a = %d" % i for i in range(6000)),
               "FROM", "", "FROM users LIMIT 99999999999999999999", "FROM users AS OF -1", "FROM users WHERE a IN ()"]
    for _ in range(150):
        q = rng.choice(valid)
        ops = rng.randint(1, 4)
        for _ in range(ops):
            i = rng.randint(0, len(q))
            action = rng.random()
            if action < 0.4:
                q = q[:i] + rng.choice(alphabet) + q[i:]
            elif action < 0.8:
                q = q[:i] + q[i + rng.randint(1, 5):]
            else:
                q = q[:i]
        queries.append(q)
    for q in queries:
        if "\u0000" in q or any(0xD800 <= ord(ch) <= 0xDFFF for ch in q):
            continue   # an argv cannot hold NUL or a lone surrogate
        run("nedb", ["query", db, q], {0, 2}, "query %r" % q[:60])

    # --- JSON documents: what strict RFC 8259 + I-JSON rejects must be refused (exit 2).
    docs_bad = ['{"a": }', '{"a": 1,}', '{"a": NaN}', '{"a": Infinity}', '{"a": 01}', '{"a": "\\u"}', '{"a": "\\ud800"}',
                '{"a": 1, "a": 2}', '{"a": 9007199254740993}', '{"a": -123456789012345678901}', '[1]', '"x"', '{"_id": 1}',
                '{"a": "' + "\\x" + '"}', '{"a": 1e999}', "{" * 300 + "}" * 300, '{"a": "tab\tinside"}', '{"a": 1} x']
    for i, d in enumerate(docs_bad):
        run("nedb", ["put", db, "hostile", "bad%d" % i, d], {2}, "bad JSON %r" % d[:40])
    docs_good = ['{"a": 9007199254740992}', '{"a": 100000000000000000000}', '{"a": -0.0, "b": 5e-324}', '{"u": "\u00e9\u2603"}']
    for i, d in enumerate(docs_good):
        p = run("nedb", ["put", db, "hostile", "good%d" % i, d], {0}, "good JSON %r" % d)
        if p and p.returncode == 0:
            want = json.loads(d)
            def same(g):
                try:
                    got = json.loads(g.stdout)
                except ValueError:
                    return False
                return all(got.get(k) == v for k, v in want.items())
            run("nedb", ["get", db, "hostile", "good%d" % i], {0}, "read back %r" % d, check=same)

    # --- Ids, names and flags: refused with exit 2, and nothing is created.
    fresh = os.path.join(work, "never")
    bad_args = [["put", fresh, "c", "", "{}"], ["put", fresh, "a:b", "x", "{}"], ["put", fresh, "c", "x" * 5000, "{}"],
                ["put", fresh, "c", "x", "{}", "--durability", "sometimes"], ["put", fresh, "c", "x", "{}", "--confidence", "2"],
                ["put", fresh, "c", "x", "{}", "--expect-seq", "1", "--if-absent"], ["put", fresh, "c", "x", "{}", "--caused-by", "1,x"],
                ["put", fresh, "c", "x", "{}", "--valid-from", "2024-02-30"], ["put", fresh, "c", "x", "{}", "--client", "c"],
                ["put", fresh, "c", "x", "{}", "--valid-from", "2025-01-01", "--valid-to", "2024-01-01"],
                ["index", fresh, "c", "f", "fuzzy"], ["link", fresh, "a", "r", "b:c"], ["get", fresh, "c", "x", "--as-of", "-3"],
                ["query", fresh, "FROM"], ["export", fresh, "--valid-at", "yesterday"], ["put", fresh, "--nonsense"]]
    for argv in bad_args:
        run("nedb", argv, {2}, "bad arguments %s" % argv[3:][:4], check=lambda p: not os.path.exists(fresh))
    for raw in (b"\xff", b"\xfe\xfe", b"a\xc3"):
        try:
            p = subprocess.run([os.path.join(c.bindir, "nedb"), "put", os.fsencode(fresh), b"c", raw, b"{}"],
                               capture_output=True, timeout=LIMIT)
            kind = "ok" if p.returncode == 2 and not os.path.exists(fresh) else "accepted-but-wrong"
        except subprocess.TimeoutExpired:
            kind = "hang"
        c.record(kind, "non-UTF-8 id %r" % raw)

    # --- Proof files: every mutation of a valid proof is rejected by both verifiers.
    key = os.path.join(work, "p.key")
    run("nedb-prove", ["keygen", "--out", key], {0}, "keygen")
    proof = os.path.join(work, "alice.proof")
    run("nedb-prove", [db, "--doc", "users:alice", "--sign-key", key, "--out", proof], {0}, "prove")
    if os.path.exists(proof):
        original = open(proof, "rb").read()
        lines = original.split(b"\n")
        for n in range(60):
            m = bytearray(original)
            choice = rng.random()
            if choice < 0.5:
                at = rng.randrange(len(m))
                m[at] ^= 1 << rng.randrange(8)
            elif choice < 0.75:
                ls = list(lines)
                i = rng.randrange(len(ls))
                ls.insert(i, ls[rng.randrange(len(ls))])
                m = bytearray(b"\n".join(ls))
            else:
                ls = list(lines)
                del ls[rng.randrange(len(ls))]
                m = bytearray(b"\n".join(ls))
            if bytes(m) == original:
                continue
            path = os.path.join(work, "m%d.proof" % n)
            open(path, "wb").write(bytes(m))
            run("nedb-prove", ["verify", path, "--pubkey", key + ".pub"], {1, 2}, "mutated proof %d" % n)
            try:
                p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "verify_proof.py"), path, "--pubkey", key + ".pub"],
                                   capture_output=True, timeout=LIMIT)
                c.record("ok" if p.returncode != 0 else "accepted-but-wrong", "python verifier, mutated proof %d" % n)
            except subprocess.TimeoutExpired:
                c.record("hang", "python verifier %d" % n)

    # --- Damaged stores through every tool.
    base = os.path.join(work, "base")
    run("nedb", ["demo", base], {0}, "base store")
    for i in range(40):
        for j in range(12):
            run("nedb", ["put", base, "bulk", "d%d" % (i * 12 + j), json.dumps({"n": i * 12 + j, "pad": "x" * (i % 30)}),
                         "--durability", "none"], {0}, "fill")
    expected = run("nedb", ["export", base], {0}, "export base")
    for n in range(30):
        damaged = os.path.join(work, "damaged%d" % n)
        shutil.copytree(base, damaged)
        seg_dir = os.path.join(damaged, "segments")
        segs = sorted(os.listdir(seg_dir))
        path = os.path.join(seg_dir, rng.choice(segs))
        data = bytearray(open(path, "rb").read())
        kind = rng.choice(["flip", "cut", "zeros", "delete", "splice"])
        if kind == "flip" and len(data) > 129:
            data[rng.randrange(128, len(data))] ^= 1 << rng.randrange(8)
        elif kind == "cut" and len(data) > 130:
            del data[rng.randrange(129, len(data)):]
        elif kind == "zeros" and len(data) > 700:
            at = rng.randrange(128, len(data) - 600)
            data[at:at + 512] = bytes(512)
        elif kind == "splice" and len(data) > 400:
            at = rng.randrange(128, len(data) - 200)
            del data[at:at + rng.randrange(1, 150)]
        if kind == "delete":
            os.remove(path)
        else:
            open(path, "wb").write(bytes(data))
        what = "%s of %s" % (kind, os.path.basename(path))
        v = run("nedb-verify", [damaged], {0, 1, 3}, "verify after " + what)
        damaged_really = v is not None and v.returncode != 0
        # Reads: the undamaged answer, or exit 3.
        run("nedb", ["export", damaged], {0, 3}, "export after " + what,
            check=lambda p: p.returncode != 0 or (expected is not None and p.stdout == expected.stdout))
        run("nedb-dump", [damaged], {1} if damaged_really else {0, 1}, "dump after " + what)
        out = os.path.join(work, "salvaged%d" % n)
        r = run("nedb-repair", [damaged, "--out", out], {0, 1, 3}, "repair after " + what)
        if r is not None and r.returncode in (0, 1) and os.path.exists(out):
            run("nedb-verify", [out], {0}, "verify the salvage after " + what)
        run("nedb-compact", [damaged], {1, 3} if damaged_really else {0, 1, 3}, "compact after " + what)


if __name__ == "__main__":
    main()
