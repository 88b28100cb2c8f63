// pg-boss (npm) as bench/peers runs it: jobs inserted in bulk (boss.insert, one statement), then
// C workers (boss.work called C times: pg-boss 10 has no per-worker concurrency) drain them.
// pg-boss 10's worker waits its polling interval (0.5 s at least) after every fetch, so with
// batchSize 1 it cannot exceed 2 jobs/s per worker: each worker fetches batchSize 50 (one UPDATE
// … SKIP LOCKED → active) and runs the batch's jobs one after another (at most C jobs in flight,
// as C workers), then completes the batch (one UPDATE → completed). pg-boss has no LISTEN.
// jobs/s from the first handler start until no job of the queue is left uncompleted.
// Pickup: one worker, boss.send at R/s, latency from send's call to the handler's start.
import PgBoss from "pg-boss";
import { args, now, work, emit, paced, until, pickupResult } from "./common.mjs";

const o = args();
const boss = new PgBoss({ connectionString: o.url, max: Math.max(4, o.concurrency + 2),
                          supervise: false, schedule: false });
boss.on("error", (e) => console.error(e.message));
await boss.start();
const queue = `peers_${process.pid}_${Date.now()}`;
await boss.createQueue(queue);
const opts = { batchSize: 50, pollingIntervalSeconds: 0.5 };
const pickupOpts = opts;

if (o.mode === "drain") {
  const jobs = Array.from({ length: o.jobs }, (_, i) => ({ name: queue, data: { i } }));
  for (let i = 0; i < jobs.length; i += 5000) await boss.insert(jobs.slice(i, i + 5000));
  let first = 0, done = 0;
  for (let c = 0; c < o.concurrency; ++c) {
    await boss.work(queue, opts, async (batch) => {
      if (!first) first = now();
      for (const _ of batch) { ++done; await work(o.workMs); }
    });
  }
  await until(async () => done >= o.jobs, 5);
  const db = boss.getDb();
  await until(async () => Number((await db.executeSql(
    "SELECT count(*) FROM pgboss.job WHERE name = $1 AND state <> 'completed'", [queue])).rows[0].count) === 0, 2);
  const end = now();
  emit({ jobsPerSecond: o.jobs / ((end - first) / 1000) });
} else {
  const n = Math.round(o.rate * o.seconds);
  const sent = new Map(), lat = [];
  await boss.work(queue, pickupOpts, async (batch) => { for (const job of batch) {
    const i = job.data.i, s = sent.get(i);
    if (s !== undefined && i > 0) lat.push(now() - s);
    sent.delete(i);
  } });
  sent.set(0, now()); await boss.send(queue, { i: 0 });
  await until(async () => !sent.has(0), 5, 60000);
  await paced(n, o.rate, async (i) => { sent.set(i, now()); await boss.send(queue, { i }); });
  await until(async () => lat.length >= n, 5, 10000);
  emit(pickupResult(lat, o));
}
await boss.stop({ graceful: false, wait: false, close: true, timeout: 1000 });
process.exit(0);
