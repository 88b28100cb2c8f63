"""Celery (PyPI) with its RabbitMQ transport as bench/peers runs it.

  python celery_peer.py drain|pickup --url AMQP --jobs N --concurrency C --work-ms W --rate R --seconds S

drain: N tasks published first (one producer connection, persistent messages), then
`celery worker --pool prefork --concurrency C --prefetch-multiplier 1` drains them; tasks are
acks_late (the ack after the task returns: at-least-once, as mqlab's Ack after the work). Each task
appends "start end" (wall clock) to a file (one O_APPEND write); jobs/s from the first start to the
last end. pickup: the worker started first, tasks published at R/s with their send time; the task
records now - sent. Prints one JSON line.
"""
import json, os, subprocess, sys, tempfile, time

from celery import Celery

app = Celery("celery_peer", broker=os.environ.get("PEER_BROKER", "amqp://guest@localhost//"))
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_ignore_result=True,
                task_default_queue=os.environ.get("PEER_QUEUE", "celery"),
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
OUT = os.environ.get("PEER_OUT", "/dev/null")


@app.task(name="t")
def t(sent=0.0, work_ms=0.0):
    start = time.time()
    if work_ms > 0:
        time.sleep(work_ms / 1000)
    end = time.time()
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{start} {end} {start - sent if sent else -1}\n".encode())
    os.close(fd)


def lines(path):
    try:
        with open(path) as f:
            return [l.split() for l in f.read().splitlines() if l]
    except FileNotFoundError:
        return []


def wait_lines(path, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        got = lines(path)
        if len(got) >= n:
            return got
        time.sleep(0.02)
    raise SystemExit(f"celery: {len(lines(path))} of {n} tasks done in {timeout} s")


def main():
    a = sys.argv[1:]
    mode, o = a[0], dict(zip([k.lstrip("-") for k in a[1::2]], a[2::2]))
    jobs, conc = int(o.get("jobs", 1000)), int(o.get("concurrency", 1))
    work_ms = float(o.get("work-ms", 0))
    rate, seconds = float(o.get("rate", 50)), float(o.get("seconds", 4))
    queue = f"peers-{os.getpid()}-{int(time.time())}"
    out = tempfile.mktemp(prefix="celery-peer-", suffix=".txt")
    env = dict(os.environ, PEER_BROKER=o["url"], PEER_QUEUE=queue, PEER_OUT=out)
    app.conf.broker_url = o["url"]
    app.conf.task_default_queue = queue
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "celery_peer", "worker",
           "--pool", "prefork", "--concurrency", str(conc if mode == "drain" else 1),
           "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
           "--without-heartbeat", "-Q", queue, "--loglevel", "WARNING"]
    worker = None
    try:
        with app.producer_or_acquire() as producer:
            if mode == "drain":
                for _ in range(jobs):
                    t.apply_async(kwargs={"work_ms": work_ms}, producer=producer)
                worker = subprocess.Popen(cmd, cwd=here, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                got = wait_lines(out, jobs, 300)
                first = min(float(g[0]) for g in got)
                last = max(float(g[1]) for g in got)
                print(json.dumps({"jobsPerSecond": jobs / (last - first)}))
            else:
                worker = subprocess.Popen(cmd, cwd=here, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                t.apply_async(kwargs={"sent": time.time()}, producer=producer)
                wait_lines(out, 1, 60)
                n = int(rate * seconds)
                t0 = time.time()
                for i in range(1, n + 1):
                    d = t0 + i / rate - time.time()
                    if d > 0:
                        time.sleep(d)
                    t.apply_async(kwargs={"sent": time.time()}, producer=producer)
                got = wait_lines(out, n + 1, 30)[1:]
                lat = sorted(float(g[2]) * 1000 for g in got)
                pct = lambda p: lat[max(0, min(len(lat) - 1, -(-len(lat) * p // 100) - 1))]
                print(json.dumps({"p50Ms": pct(50), "p99Ms": pct(99), "maxMs": lat[-1],
                                  "samples": len(lat), "ratePerSecond": rate, "seconds": seconds}))
    finally:
        if worker:
            worker.terminate()
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        if os.path.exists(out):
            os.unlink(out)


if __name__ == "__main__":
    main()
