// BullMQ (npm) as bench/peers runs it: jobs added in bulk (queue.addBulk), then one Worker with
// `concurrency` C drains them. Per job: moveToActive (a Lua script: the job hash, the wait list,
// the active list, a lock), the processor, then moveToFinished (Lua; removeOnComplete: the hash
// is deleted, as graphile-worker deletes its row). jobs/s from the first processor start to the
// last `completed` event (emitted after moveToFinished returned).
// Pickup: one Worker (concurrency 1, blocking BZPOPMIN marker), queue.add at R/s, latency from
// add's call to the processor's start.
import { Queue, Worker } from "bullmq";
import { args, now, work, emit, paced, until, pickupResult } from "./common.mjs";

const o = args();
const u = new URL(o.url);
const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
const name = `peers-${process.pid}-${Date.now()}`;
const queue = new Queue(name, { connection });
const jobOpts = { removeOnComplete: true, removeOnFail: true };

if (o.mode === "drain") {
  for (let i = 0; i < o.jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, o.jobs - i) },
                                   (_, k) => ({ name: "t", data: { i: i + k }, opts: jobOpts })));
  }
  let first = 0, done = 0, end = 0;
  const worker = new Worker(name, async () => { if (!first) first = now(); await work(o.workMs); },
                            { connection, concurrency: o.concurrency });
  worker.on("completed", () => { if (++done === o.jobs) end = now(); });
  await until(async () => done >= o.jobs, 2);
  emit({ jobsPerSecond: o.jobs / ((end - first) / 1000) });
  await worker.close(true);
} else {
  const n = Math.round(o.rate * o.seconds);
  const sent = new Map(), lat = [];
  const worker = new Worker(name, async (job) => {
    const i = job.data.i, s = sent.get(i);
    if (s !== undefined && i > 0) lat.push(now() - s);
    sent.delete(i);
  }, { connection, concurrency: 1 });
  sent.set(0, now()); await queue.add("t", { i: 0 }, jobOpts);
  await until(async () => !sent.has(0), 5, 60000);
  await paced(n, o.rate, async (i) => { sent.set(i, now()); await queue.add("t", { i }, jobOpts); });
  await until(async () => lat.length >= n, 5, 10000);
  emit(pickupResult(lat, o));
  await worker.close(true);
}
await queue.obliterate({ force: true }).catch(() => {});
await queue.close();
process.exit(0);
