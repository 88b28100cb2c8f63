// Shared by the Node peers of bench/peers: argument parsing, the result line, percentiles.
// Every peer script takes: <drain|pickup> --url U --jobs N --concurrency C --work-ms W
//   --rate R --seconds S, and prints one JSON line on stdout ({jobsPerSecond} or {p50Ms,p99Ms}).
import { performance } from "node:perf_hooks";

export function args() {
  const a = process.argv.slice(2);
  const o = { mode: a[0], jobs: 1000, concurrency: 1, workMs: 0, rate: 50, seconds: 4 };
  for (let i = 1; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    o[k] = k === "url" ? a[i + 1] : Number(a[i + 1]);
  }
  return o;
}
export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function work(ms) { return ms > 0 ? sleep(ms) : undefined; }
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}
export function emit(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }
export function pickupResult(lat, o) {
  lat.sort((x, y) => x - y);
  return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1],
           samples: lat.length, ratePerSecond: o.rate, seconds: o.seconds };
}
// Sends `n` messages at `rate`/s through `send(i)` (awaited; the next is not late-started).
export async function paced(n, rate, send) {
  const t0 = now();
  for (let i = 1; i <= n; ++i) {
    const due = t0 + (1000 * i) / rate;
    const d = due - now();
    if (d > 0) await sleep(d);
    await send(i);
  }
}
// Resolves once cond() is true (polled every `ms`), or rejects after `timeoutMs`.
export async function until(cond, ms = 2, timeoutMs = 180000) {
  const end = now() + timeoutMs;
  while (!(await cond())) {
    if (now() > end) throw new Error("timed out");
    await sleep(ms);
  }
}
