#!/usr/bin/env python3
"""Capacity efficiency from a `mqlab study` results.json: per cell, the rate served (jobs completed
per second inside the rung's window) at the highest rung that met the SLO, divided by the
theoretical capacity (workers × concurrency / service time). Goal (issue 8): ≥ 0.97.

  bench/capacity-efficiency.py bench/out/queue-capacity/results.json [--json OUT]
"""
import json
import statistics
import sys


def main():
    path = sys.argv[1]
    out_path = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    d = json.load(open(path))
    rows = []
    for c in d["cells"]:
        ok = [s for s in c.get("steps", []) if s.get("meetsSlo")]
        best = max(ok, key=lambda s: s["multiple"]) if ok else None
        served = best.get("completedPerSec") if best else None
        eff = served / c["capacity"] if served else None
        rows.append({"version": c["version"], "backend": c["backend"], "workers": c["workers"],
                     "capacity": c["capacity"], "highestRungMeetingSlo": best and best["multiple"],
                     "servedPerSecond": served, "efficiency": eff,
                     "p99MsAtThatRung": best and best["endToEnd"]["p99"]})
    effs = [r["efficiency"] for r in rows if r["efficiency"] is not None]
    m = d["machine"]
    print(f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memoryGiB', 0):.1f} GiB, "
          f"{m.get('kernel')}; {d.get('startedAt')}; service {d['parameters'].get('serviceMs')}"
          f" ms fixed, rungs of {d['parameters'].get('stepSeconds')} s, ladder "
          f"{d['parameters'].get('ladder')}\n")
    print("| version | backend | workers | capacity jobs/s | highest rung in SLO | served jobs/s | "
          "served / capacity | p99 ms there |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f = lambda x, d=1: "–" if x is None else f"{x:.{d}f}"
        mark = "" if r["efficiency"] is None or r["efficiency"] >= 0.97 else " ✗"
        print(f"| {r['version']} | {r['backend']} | {r['workers']} | {f(r['capacity'], 0)} | "
              f"{f(r['highestRungMeetingSlo'], 2)}× | {f(r['servedPerSecond'])} | "
              f"**{f(r['efficiency'], 3)}**{mark} | {f(r['p99MsAtThatRung'], 0)} |")
    if effs:
        print(f"\nmedian {statistics.median(effs):.3f}, min {min(effs):.3f}; "
              f"{sum(e >= 0.97 for e in effs)} of {len(effs)} cells ≥ 0.97")
    if out_path:
        json.dump({"source": path, "machine": d["machine"], "cells": rows}, open(out_path, "w"),
                  indent=2)


if __name__ == "__main__":
    main()
