// River (Go module github.com/riverqueue/river, pgx v5 driver) as bench/peers runs it.
//
//	river-peer drain|pickup --url PG --jobs N --concurrency C --work-ms W --rate R --seconds S
//
// drain: N jobs inserted in bulk (InsertManyFast: COPY), then one client with MaxWorkers = C
// drains the default queue. Per job: the producer's batched fetch (UPDATE … SKIP LOCKED →
// running), the worker, then River's completer, which batches completions (UPDATE → completed,
// many rows per statement). FetchCooldown is set to 1 ms (default 100 ms, which caps a client at
// ~10 fetches/s: with MaxWorkers 1 that is 10 jobs/s); everything else is River's default. jobs/s
// from the first Work call until no job is left uncompleted. pickup: the client started, jobs
// inserted at R/s (Insert; LISTEN/NOTIFY wakes the producer), latency from Insert's call to Work.
// Prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

type Args struct {
	Sent   int64   `json:"sent"`
	WorkMs float64 `json:"work_ms"`
}

func (Args) Kind() string { return "peer" }

var (
	origin  = time.Now()
	first   atomic.Int64
	worked  atomic.Int64
	latMu   sync.Mutex
	latency []float64
)

type Worker struct{ river.WorkerDefaults[Args] }

func (w *Worker) Work(ctx context.Context, j *river.Job[Args]) error {
	now := time.Since(origin).Nanoseconds()
	first.CompareAndSwap(0, now)
	if j.Args.Sent > 0 {
		latMu.Lock()
		latency = append(latency, float64(now-j.Args.Sent)/1e6)
		latMu.Unlock()
	}
	if j.Args.WorkMs > 0 {
		time.Sleep(time.Duration(j.Args.WorkMs * float64(time.Millisecond)))
	}
	worked.Add(1)
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "river-peer:", err)
		os.Exit(1)
	}
}

func waitFor(cond func() bool, every, timeout time.Duration) {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			must(fmt.Errorf("timed out"))
		}
		time.Sleep(every)
	}
}

func main() {
	mode := os.Args[1]
	fs := flag.NewFlagSet("river-peer", flag.ExitOnError)
	url := fs.String("url", "", "PostgreSQL URL")
	jobs := fs.Int("jobs", 1000, "jobs")
	conc := fs.Int("concurrency", 1, "MaxWorkers")
	workMs := fs.Float64("work-ms", 0, "per-job work")
	rate := fs.Float64("rate", 50, "pickup rate")
	seconds := fs.Float64("seconds", 4, "pickup seconds")
	must(fs.Parse(os.Args[2:]))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, *url)
	must(err)
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	must(err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	must(err)
	_, err = pool.Exec(ctx, "TRUNCATE river_job")
	must(err)
	workers := river.NewWorkers()
	river.AddWorker(workers, &Worker{})
	maxWorkers := *conc
	if mode == "pickup" {
		maxWorkers = 1
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Workers:       workers,
		FetchCooldown: time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	must(err)
	out := map[string]any{}
	if mode == "drain" {
		params := make([]river.InsertManyParams, *jobs)
		for i := range params {
			params[i] = river.InsertManyParams{Args: Args{WorkMs: *workMs}}
		}
		_, err = client.InsertManyFast(ctx, params)
		must(err)
		must(client.Start(ctx))
		waitFor(func() bool { return worked.Load() >= int64(*jobs) }, 2*time.Millisecond, 300*time.Second)
		waitFor(func() bool {
			var n int64
			must(pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state <> 'completed'").Scan(&n))
			return n == 0
		}, 2*time.Millisecond, 60*time.Second)
		end := time.Since(origin).Nanoseconds()
		out["jobsPerSecond"] = float64(*jobs) / (float64(end-first.Load()) / 1e9)
	} else {
		must(client.Start(ctx))
		_, err = client.Insert(ctx, Args{}, nil)
		must(err)
		waitFor(func() bool { return worked.Load() >= 1 }, 5*time.Millisecond, 60*time.Second)
		n := int(*rate * *seconds)
		t0 := time.Now()
		for i := 1; i <= n; i++ {
			time.Sleep(time.Until(t0.Add(time.Duration(float64(i) / *rate * float64(time.Second)))))
			_, err = client.Insert(ctx, Args{Sent: time.Since(origin).Nanoseconds()}, nil)
			must(err)
		}
		waitFor(func() bool { return worked.Load() >= int64(n+1) }, 5*time.Millisecond, 30*time.Second)
		latMu.Lock()
		sort.Float64s(latency)
		pct := func(p float64) float64 {
			i := int(math.Ceil(p/100*float64(len(latency)))) - 1
			return latency[max(0, min(len(latency)-1, i))]
		}
		out = map[string]any{"p50Ms": pct(50), "p99Ms": pct(99), "maxMs": latency[len(latency)-1],
			"samples": len(latency), "ratePerSecond": *rate, "seconds": *seconds}
		latMu.Unlock()
	}
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = client.Stop(stopCtx)
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
