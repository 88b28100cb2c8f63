#!/usr/bin/env python3
"""bench/peers' driver: mqlab beside the job-queue tools users would otherwise use.

Run by bench/peers (which builds, installs the peers into bench/.peers/, starts the private
servers and passes their URLs here). Each pair runs A B A B … in the same process-free way: every
figure of every round is one fresh child process (mqlab_queue_bench --single …, or the peer's
script), so that the two sides pay the same start-up and the machine's drifting load hits both
alike. Each figure is the median of its rounds; each ratio is the median of the rounds' mqlab/peer
ratios (> 1: mqlab is faster, or for latency, slower — latency ratios say so).

Figures per pair (same server, same job count N, same concurrency C):
  jobs/s       N jobs enqueued first in bulk (the peer's own bulk insert; mqlab: 4 threads), then
               C consumers drain them; from the first job's start to the last completion. Two
               rounds of work: 0 ms (zero-work jobs) and 1 ms (a 1 ms sleep per job). C = 1, 4.
  pickup       one consumer idle and waiting, jobs enqueued at 50/s for 4 s, latency from the
               enqueue call to the job's start: p50 and p99.
What each side does per job is in DOES below and in the JSON.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DOES = {
    "mqlab worker": "the real worker::Worker (mqlab worker's code) with the PostgreSQL job store: "
                    "Receive (claim) → StartAttempt (UPDATE RUNNING, synchronous commit) → predict "
                    "→ Finish (UPDATE SUCCESS, synchronous commit) → Ack; jobs created in the "
                    "store and enqueued as the API does",
    "mqlab drain": "the queue alone through the JobQueue port, C threads on one handle "
                   "(prefetch C): Receive → work → Ack",
    "graphile-worker": "graphile-worker 0.17 runner (concurrency C, LISTEN/NOTIFY): batched "
                       "get_job (SKIP LOCKED) → task → complete_job (DELETE); jobs added by "
                       "graphile_worker.add_job over generate_series (its perfTest's method)",
    "pg-boss": "pg-boss 10: C workers, each fetch takes up to 50 jobs (UPDATE … SKIP LOCKED → "
               "active) and runs them one after another, then one UPDATE → completed for the "
               "batch; polling (0.5 s, its minimum) — pg-boss has no LISTEN; bulk boss.insert",
    "River": "River 0.51 (Go, pgx v5): one client, MaxWorkers C, FetchCooldown 1 ms (default "
             "100 ms caps fetches at 10/s), batched fetch → Work → the completer's batched "
             "UPDATE → completed; jobs inserted with InsertManyFast (COPY)",
    "BullMQ": "BullMQ 6 Worker (concurrency C): moveToActive (Lua: wait → active list, lock, job "
              "hash) → processor → moveToFinished (Lua; removeOnComplete deletes the hash); "
              "jobs added by addBulk",
    "Celery": "Celery 5.7 (Python) worker, prefork pool of C processes, RabbitMQ transport (py-amqp),"
              " prefetch multiplier 1, acks_late (ack after the task: at-least-once), results "
              "ignored; tasks published first over one producer connection",
}


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memoryGiB": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "os": distro(), "hostname": platform.node(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def distro():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def run_json(argv, timeout, log):
    """One child process; its last stdout line as JSON, or {"error": …}."""
    t0 = time.time()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    log.write(f"$ {' '.join(argv)}\n# exit {p.returncode} in {time.time() - t0:.1f} s\n"
              f"{p.stdout}{p.stderr[-2000:]}\n")
    log.flush()
    if not lines:
        return {"error": f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}"}
    try:
        r = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        return {"error": f"bad output: {e}"}
    if p.returncode != 0 and "error" not in r:
        r["error"] = f"exit {p.returncode}"
    return r


class Side:
    """How to run one side (mqlab or a peer) for a figure: argv from (figure, C, N, work_ms)."""

    def __init__(self, name, does, argv_fn):
        self.name, self.does, self.argv_fn = name, does, argv_fn


def mqlab_side(a, what, backend):
    bench = os.path.join(a.build_dir, "bench", "mqlab_queue_bench")
    urls = ["--postgres-url", a.postgres, "--redis-url", a.redis, "--amqp-url", a.amqp,
            "--kafka-brokers", a.kafka]

    def argv(fig, c, n, work_ms):
        if fig == "pickup":
            return [bench, *urls, "--backends", backend, "--single", "pickup"]
        return [bench, *urls, "--backends", backend, "--single", what, "--consumers", str(c),
                "--jobs", str(n), "--work-us", str(int(work_ms * 1000))]
    return Side(f"mqlab {what}", DOES[f"mqlab {what}"], argv)


def peer_side(name, prefix, url):
    def argv(fig, c, n, work_ms):
        if fig == "pickup":
            return [*prefix, "pickup", "--url", url, "--rate", "50", "--seconds", "4"]
        return [*prefix, "drain", "--url", url, "--jobs", str(n), "--concurrency", str(c),
                "--work-ms", str(work_ms)]
    return Side(name, DOES[name], argv)


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--merge", help="no runs: fold --ceilings/--load/--micro into this pairs JSON")
    ap.add_argument("--postgres")
    ap.add_argument("--redis")
    ap.add_argument("--amqp")
    ap.add_argument("--kafka")
    ap.add_argument("--peers-dir")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--servers", default="postgres,redis,rabbitmq")
    ap.add_argument("--ceilings", help="queue_bench JSON of the same run (RabbitMQ PerfTest, "
                                       "Kafka perf tools) to fold in")
    ap.add_argument("--load", help="load_vs_wrk JSON of the same run to fold in")
    ap.add_argument("--micro", help="Google Benchmark JSON of the same run to fold in")
    ap.add_argument("--unavailable", action="append", default=[],
                    help="name=reason of a peer the set-up could not install")
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    a = ap.parse_args()
    if a.merge:
        out = json.load(open(a.merge))
        fold(out, a)
        write(out, a)
        return
    if not all([a.postgres, a.redis, a.amqp, a.kafka, a.peers_dir]):
        ap.error("--postgres, --redis, --amqp, --kafka and --peers-dir are required")

    pd = a.peers_dir
    node = ["node"]
    unavailable = dict(u.split("=", 1) for u in a.unavailable)
    pairs = []
    n = lambda base: max(50, int(base * a.scale))
    if "postgres" in a.servers:
        peers = []
        for name, cmd in [("graphile-worker", node + [f"{pd}/node/graphile.mjs"]),
                          ("pg-boss", node + [f"{pd}/node/pgboss.mjs"]),
                          ("River", [f"{pd}/river/river-peer"])]:
            if name not in unavailable:
                peers.append(peer_side(name, cmd, a.postgres))
        pairs.append({"server": "PostgreSQL", "version": "V3", "jobs": n(2000),
                      "mqlab": [mqlab_side(a, "worker", "postgres")], "peers": peers})
    if "redis" in a.servers and "BullMQ" not in unavailable:
        pairs.append({"server": "Redis", "version": "V4", "jobs": n(10000),
                      "mqlab": [mqlab_side(a, "drain", "redis"), mqlab_side(a, "worker", "redis")],
                      "peers": [peer_side("BullMQ", node + [f"{pd}/node/bullmq.mjs"], a.redis)]})
    if "rabbitmq" in a.servers and "Celery" not in unavailable:
        pairs.append({"server": "RabbitMQ", "version": "V5", "jobs": n(2000),
                      "mqlab": [mqlab_side(a, "drain", "rabbitmq"),
                                mqlab_side(a, "worker", "rabbitmq")],
                      "peers": [peer_side("Celery", [f"{pd}/venv/bin/python",
                                                     f"{pd}/celery/celery_peer.py"], a.amqp)]})

    figures = [("jobs/s", 1, 0.0), ("jobs/s", 4, 0.0), ("jobs/s", 1, 1.0), ("jobs/s", 4, 1.0),
               ("pickup", 1, 0.0)]
    # results[pair index][side name][figure key] = list of per-round results
    results = [{} for _ in pairs]
    log = open(a.json + ".log", "w")
    load_before = loadavg()
    t_start = time.time()
    for rnd in range(a.rounds):
        for pi, pair in enumerate(pairs):
            for fig, c, work in figures:
                key = f"{fig}|{c}|{work}"
                for side in pair["mqlab"] + pair["peers"]:
                    if fig == "pickup" and side.name == "mqlab worker" and len(pair["mqlab"]) > 1:
                        continue  # pickup is the queue's: one figure per backend (the drain's)
                    r = run_json(side.argv_fn(fig, c, pair["jobs"], work), 300, log)
                    results[pi].setdefault(side.name, {}).setdefault(key, []).append(r)
                    short = (f"{r['jobsPerSecond']:.0f} jobs/s" if "jobsPerSecond" in r else
                             f"p50 {r['p50Ms']:.2f} ms" if "p50Ms" in r else r.get("error"))
                    print(f"peers: round {rnd + 1}/{a.rounds} {pair['server']} {key} "
                          f"{side.name}: {short}  ({time.time() - t_start:.0f} s)",
                          file=sys.stderr, flush=True)

    out = {"benchmark": "peers", "machine": machine(),
           "loadAverage": {"before": load_before, "after": loadavg()},
           "seconds": round(time.time() - t_start),
           "params": {"rounds": a.rounds, "scale": a.scale, "pickupRate": 50, "pickupSeconds": 4,
                      "concurrency": [1, 4], "workMs": [0, 1],
                      "alternation": "each round runs every figure of mqlab then each peer, "
                                     "fresh processes"},
           "unavailable": unavailable, "pairs": []}
    md = []
    for pi, pair in enumerate(pairs):
        pj = {"server": pair["server"], "version": pair["version"], "jobs": pair["jobs"],
              "sides": {}, "ratios": {}}
        for side in pair["mqlab"] + pair["peers"]:
            sj = {"does": side.does, "figures": {}}
            for key, rs in results[pi].get(side.name, {}).items():
                ok = [r for r in rs if "error" not in r]
                f = {"runs": rs}
                if key.startswith("jobs/s"):
                    f["median"] = median([r["jobsPerSecond"] for r in ok])
                else:
                    f["p50Ms"] = median([r["p50Ms"] for r in ok])
                    f["p99Ms"] = median([r["p99Ms"] for r in ok])
                sj["figures"][key] = f
            pj["sides"][side.name] = sj
        # Ratios: median over rounds of (mqlab side / peer) for the same round.
        for m in pair["mqlab"]:
            for p in pair["peers"]:
                rj = {}
                for fig, c, work in figures:
                    key = f"{fig}|{c}|{work}"
                    ms = results[pi].get(m.name, {}).get(key)
                    ps = results[pi].get(p.name, {}).get(key)
                    if not ms or not ps:
                        continue
                    fields = ["jobsPerSecond"] if fig == "jobs/s" else ["p50Ms", "p99Ms"]
                    for fld in fields:
                        rr = [x[fld] / y[fld] for x, y in zip(ms, ps)
                              if fld in x and fld in y and y[fld]]
                        rj[f"{key}|{fld}"] = median(rr)
                pj["ratios"][f"{m.name} / {p.name}"] = rj
        out["pairs"].append(pj)

    fold(out, a)
    write(out, a)


def write(out, a):
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
    with open(a.markdown, "w") as f:
        f.write(markdown(out))
    print(markdown(out))


def fold(out, a):
    """The same run's other benchmarks, folded into one JSON."""
    if a.ceilings and os.path.exists(a.ceilings):
        q = json.load(open(a.ceilings))
        out["ceilings"] = {k: q["backends"][k].get("ceilings") for k in q.get("backends", {})}
    if a.load and os.path.exists(a.load):
        out["load"] = json.load(open(a.load))
    if a.micro and os.path.exists(a.micro):
        mj = json.load(open(a.micro))
        out["micro"] = [{"name": b["name"], "realTimeNs": b.get("real_time"),
                         "timeUnit": b.get("time_unit"),
                         "itemsPerSecond": b.get("items_per_second")}
                        for b in mj.get("benchmarks", [])]


def fmt(x, d=0):
    return "–" if x is None else f"{x:,.{d}f}"


def markdown(out):
    m = out["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores (shared), {m['memoryGiB']} GiB, "
             f"{m['os']}, Linux {m['kernel']}; {m['date']}; {out['params']['rounds']} rounds "
             f"A B A B, medians; load average before/after {out['loadAverage']['before'][0]} / "
             f"{out['loadAverage']['after'][0]}.", ""]
    lines += ["| server | mqlab side | peer | jobs/s 1c (0 ms) | 4c (0 ms) | 1c (1 ms) | "
              "4c (1 ms) | pickup p50 / p99 ms |",
              "|---|---|---|---|---|---|---|---|"]

    def cell(pj, side, key):
        f = pj["sides"].get(side, {}).get("figures", {}).get(key)
        if not f:
            return "–"
        if key.startswith("pickup"):
            return f"{fmt(f.get('p50Ms'), 2)} / {fmt(f.get('p99Ms'), 2)}"
        return fmt(f.get("median"))

    keys = ["jobs/s|1|0.0", "jobs/s|4|0.0", "jobs/s|1|1.0", "jobs/s|4|1.0", "pickup|1|0.0"]
    for pj in out["pairs"]:
        for side in pj["sides"]:
            row = [f"{pj['version']} {pj['server']}", side if side.startswith("mqlab") else "",
                   "" if side.startswith("mqlab") else side]
            row += [cell(pj, side, k) for k in keys]
            lines.append("| " + " | ".join(row) + " |")
        for name, rj in pj["ratios"].items():
            row = [f"{pj['version']} {pj['server']}", f"**ratio {name}**", ""]
            for k in keys[:4]:
                row.append(f"**{fmt(rj.get(k + '|jobsPerSecond'), 2)}×**")
            p50, p99 = rj.get(keys[4] + "|p50Ms"), rj.get(keys[4] + "|p99Ms")
            row.append(f"{fmt(p50, 2)} / {fmt(p99, 2)} (lower is better)")
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("jobs/s ratios are mqlab / peer (> 1: mqlab faster); pickup ratios are mqlab / "
                 "peer latency (< 1: mqlab picks up sooner). Per job:")
    seen = set()
    for pj in out["pairs"]:
        for side, sj in pj["sides"].items():
            if side not in seen:
                seen.add(side)
                lines.append(f"- **{side}**: {sj['does']}.")
    for name, reason in out.get("unavailable", {}).items():
        lines.append(f"- **{name}**: not run — {reason}.")
    if out.get("ceilings"):
        lines += ["", "Server tools as ceilings (same run, bench/queue_bench.cc; ratio = mqlab / "
                  "tool):", "", "| backend | tool | vs | tool 1c | tool 4c | ratio 1c | ratio 4c |",
                  "|---|---|---|---|---|---|---|"]
        for backend, ces in out["ceilings"].items():
            for ce in ces or []:
                figs = ce.get("figures", {})
                ratio = ce.get("ratio", {})
                lines.append(f"| {backend} | {ce.get('tool')} | {ce.get('comparedWith')} | "
                             f"{fmt(figs.get('1', {}).get('median'))} | "
                             f"{fmt(figs.get('4', {}).get('median'))} | "
                             f"{fmt(ratio.get('1'), 2)} | {fmt(ratio.get('4'), 2)} |")
    if out.get("load"):
        lines += ["", "`mqlab load` vs wrk (same run, bench/load_vs_wrk_bench.cc: same trivial "
                  "endpoint, same threads and connections, A B A B; `canned`: a server cheaper "
                  "than the generators, `beast`: mqlab's own, which both saturate):", "",
                  "| endpoint | threads:connections | mqlab load req/s | wrk req/s | ratio (median "
                  "of pairs) | CPU µs/req mqlab / wrk |", "|---|---|---|---|---|---|"]
        for r in out["load"].get("results", []):
            lines.append(f"| {r.get('endpoint', 'beast')} | {r['threads']}:{r['connections']} | "
                         f"{fmt(r.get('mqlabRequestsPerSecond'))} | "
                         f"{fmt(r.get('wrkRequestsPerSecond'))} | "
                         f"**{fmt(r.get('medianPairRatio'), 2)}×** | "
                         f"{fmt(r.get('mqlabCpuMicrosPerRequest'), 1)} / "
                         f"{fmt(r.get('wrkCpuMicrosPerRequest'), 1)} |")
    if out.get("micro"):
        lines += ["", "Micro-benchmarks (Google Benchmark, same run):", "",
                  "| benchmark | time | items/s |", "|---|---|---|"]
        for b in out["micro"]:
            lines.append(f"| {b['name']} | {fmt(b['realTimeNs'], 1)} {b['timeUnit']} | "
                         f"{fmt(b['itemsPerSecond'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
