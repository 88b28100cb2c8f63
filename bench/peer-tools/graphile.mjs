// graphile-worker (npm) as bench/peers runs it, following its own perfTest: jobs added in bulk
// with one SQL statement (graphile_worker.add_job over generate_series), then a runner with
// `concurrency` C drains them. Per job: the runner's batched get_job claim (SKIP LOCKED), the
// task, then complete_job (DELETE of the row). jobs/s from the first task start until the jobs
// table is empty (the last completion committed).
// Pickup: one runner (concurrency 1, LISTEN/NOTIFY), addJob at R/s, latency from addJob's call to
// the task's start.
import { run, runMigrations, makeWorkerUtils, Logger } from "graphile-worker";
import pg from "pg";
import { args, now, work, emit, paced, until, pickupResult } from "./common.mjs";

const o = args();
const logger = new Logger(() => () => {});
const pool = new pg.Pool({ connectionString: o.url, max: 4 });
pool.on("error", (e) => console.error(e.message));
await runMigrations({ pgPool: pool, logger });
await pool.query("DELETE FROM graphile_worker._private_jobs");

if (o.mode === "drain") {
  await pool.query(`SELECT graphile_worker.add_job('t', json_build_object('id', i))
                    FROM generate_series(1, $1) i`, [o.jobs]);
  let first = 0, done = 0;
  const runner = await run({
    pgPool: pool, concurrency: o.concurrency, noHandleSignals: true, pollInterval: 1000, logger,
    taskList: { t: async () => { if (!first) first = now(); ++done; await work(o.workMs); } },
  });
  await until(async () => done >= o.jobs, 5);
  await until(async () =>
    Number((await pool.query("SELECT count(*) FROM graphile_worker._private_jobs")).rows[0].count) === 0, 2);
  const end = now();
  await runner.stop();
  emit({ jobsPerSecond: o.jobs / ((end - first) / 1000) });
} else {
  const n = Math.round(o.rate * o.seconds);
  const sent = new Map(), lat = [];
  const runner = await run({
    pgPool: pool, concurrency: 1, noHandleSignals: true, pollInterval: 1000, logger,
    taskList: { t: async (p) => { const s = sent.get(p.i); if (s !== undefined && p.i > 0) lat.push(now() - s); sent.delete(p.i); } },
  });
  const utils = await makeWorkerUtils({ pgPool: pool, logger });
  sent.set(0, now()); await utils.addJob("t", { i: 0 });
  await until(async () => !sent.has(0), 5, 60000);
  await paced(n, o.rate, async (i) => { sent.set(i, now()); await utils.addJob("t", { i }); });
  await until(async () => lat.length >= n, 5, 10000);
  await runner.stop();
  await utils.release();
  emit(pickupResult(lat, o));
}
await pool.end();
