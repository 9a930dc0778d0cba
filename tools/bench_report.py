#!/usr/bin/env python3
"""Summarises benchmark measurements into BENCHMARKS.md.

Reads the JSON lines written by `nedb-bench engine --json` and `tools/bench_peer.py` (one line
per workload, system and round), computes the median and spread per workload and system, the
ratio of NEDB against each peer, and writes the table with the machine description, the date and
the Markdown tables of the other nedb-bench suites between the generated-section markers of the
output file. Everything outside the markers (the hand-written analysis) is kept.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

BEGIN, END = "<!-- generated:begin -->", "<!-- generated:end -->"

WORKLOADS = [
    ("put_durable", "put, durable, one writer (fsync per put)"),
    ("put_batch", "put, durable batches of 1000 (one fsync per batch)"),
    ("put_memory", "put, in memory"),
    ("get_head", "get at HEAD"),
    ("get_as_of", "get AS OF an earlier seq"),
    ("query_eq", "eq-indexed WHERE, LIMIT 10"),
    ("query_range", "range + ORDER BY + LIMIT 10"),
    ("query_search", "SEARCH (1–3 terms), LIMIT 10"),
    ("query_group", "GROUP BY status COUNT"),
    ("query_trace", "TRACE caused_by (9 causes)"),
    ("open", "reopen the loaded database, first get"),
    ("verify", "full verification"),
    ("size", "size on disk of the loaded database"),
]
SYSTEMS = ["NEDB", "SQLite", "nedb-engine (Python)", "nedb-engine (native)"]
HIGHER_IS_BETTER = {"ops/s"}


def machine():
    def read(path):
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            return ""
    cpu = next((l.split(":", 1)[1].strip() for l in read("/proc/cpuinfo").splitlines() if l.startswith("model name")), platform.processor())
    mem = next((l.split()[1] for l in read("/proc/meminfo").splitlines() if l.startswith("MemTotal")), "0")
    os_name = next((l.split("=", 1)[1].strip('"') for l in read("/etc/os-release").splitlines() if l.startswith("PRETTY_NAME=")), platform.system())
    try:
        fs = subprocess.run(["df", "-T", os.environ.get("NEDB_BENCH_DIR", "/tmp")], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    except Exception:
        fs = "unknown"
    try:
        swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        swift = "unknown"
    try:
        sqlite = subprocess.run(["pkg-config", "--modversion", "sqlite3"], capture_output=True, text=True).stdout.strip()
    except Exception:
        sqlite = "unknown"
    return (f"{cpu}, {os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB RAM; {os_name}, kernel {platform.release()}; "
            f"scratch file system {fs}; {swift}; SQLite {sqlite}")


def show(values, unit):
    m = statistics.median(values)
    spread = (max(values) - min(values)) / 2 / m * 100 if m else 0
    if unit == "ops/s":
        text = f"{m:,.0f}/s"
    elif unit == "bytes":
        return f"{m / 1048576:.1f} MiB"
    elif unit == "µs":
        text = f"{m:,.1f} µs" if m < 10000 else f"{m / 1000:,.1f} ms"
    else:
        text = f"{m:,.1f} ms"
    return f"{text} ±{spread:.0f}%"


def ratio(nedb, peer, unit):
    if not nedb or not peer:
        return "—"
    r = nedb / peer if unit in HIGHER_IS_BETTER else peer / nedb
    return f"**{r:.2f}× better**" if r >= 1 else f"{1 / r:.2f}× worse"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True)
    parser.add_argument("--tables", help="Markdown output of the other nedb-bench suites")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--note", default="", help="a line about the run (e.g. quick mode, peers missing)")
    args = parser.parse_args()

    samples, units, documents = {}, {}, set()
    with open(args.results, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            samples.setdefault((r["workload"], r["system"]), []).append(float(r["value"]))
            units[r["workload"]] = r["unit"]
            documents.add(r["documents"])
    rounds = max((len(v) for v in samples.values()), default=0)
    present = [s for s in SYSTEMS if any(k[1] == s for k in samples)]
    header = ["workload"] + [f"{s}" for s in present] + [f"NEDB vs {s}" for s in present if s != "NEDB"]
    rows = []
    for wid, title in WORKLOADS:
        if wid not in units:
            continue
        unit = units[wid]
        cells = [title]
        medians = {}
        for s in present:
            v = samples.get((wid, s))
            cells.append(show(v, unit) if v else "n/a")
            medians[s] = statistics.median(v) if v else None
        for s in present:
            if s != "NEDB":
                cells.append(ratio(medians.get("NEDB"), medians.get(s), unit))
        rows.append(cells)

    out = [BEGIN, "",
           f"Generated by `tools/bench.sh` on {datetime.date.today().isoformat()}.",
           f"Machine: {machine()}.", ""]
    if args.note:
        out += [args.note, ""]
    out += [f"### Engine workloads side by side: {', '.join(f'{d:,}' for d in sorted(documents))} documents, "
            f"median of {rounds} interleaved rounds (± half the range)", "",
            "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "Ratios: throughput over throughput, or the peer's time (or size) over NEDB's; "
            "above 1 NEDB is better. n/a: the peer has no such operation."]
    if args.tables and os.path.exists(args.tables):
        with open(args.tables, encoding="utf-8") as fh:
            out += ["", "### The other nedb-bench suites (same run)", "", fh.read().strip()]
    out += ["", END]
    generated = "\n".join(out)

    existing = ""
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as fh:
            existing = fh.read()
    if BEGIN in existing and END in existing:
        before, rest = existing.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + generated + after
    else:
        text = "# Benchmarks\n\n" + generated + "\n"
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"bench_report: wrote {args.out}")


if __name__ == "__main__":
    main()
