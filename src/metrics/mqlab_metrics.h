// mqlab's own metric families (DESIGN.md § Metrics), defined once so that every process exposes
// the same names and labels.
//
// Checklist: when a family is added or renamed here, update DESIGN.md's list (through the lead),
// the report's Prometheus queries, and mqlab_metrics_test.cc.
//
// Label values stay bounded: `version` is "v0".."v6" or "mem"; `route` is the registered route
// pattern (`/v3/ocr/jobs/{id}`), never the concrete path; `code` the HTTP status; `backend` one
// of "memory", "postgres", "redis", "rabbitmq", "kafka"; `status` a terminal JobStatus name
// ("SUCCESS", "FAILED"); `component` the thing holding work in flight ("api", "worker", ...).
//
// Threading: the families are thread-safe (see registry.h); the struct itself is immutable.
#ifndef MQLAB_METRICS_MQLAB_METRICS_H_
#define MQLAB_METRICS_MQLAB_METRICS_H_

#include "metrics/registry.h"

namespace mqlab::metrics {

struct MqlabMetrics {
  // Registers every family below in `registry`, which owns them and must outlive this object.
  // REQUIRES: at most one MqlabMetrics per Registry.
  explicit MqlabMetrics(Registry& registry);

  // HTTP, per endpoint family.
  Family<Counter>& http_requests_total;               // {version, route, code}
  Family<Histogram>& http_request_duration_seconds;   // {version, route}
  Family<Counter>& backpressure_rejections_total;     // {version}

  // Jobs, per queue backend.
  Family<Counter>& jobs_enqueued_total;               // {backend}
  Family<Counter>& jobs_completed_total;              // {backend, status}
  Family<Histogram>& job_queue_wait_seconds;          // {backend} enqueue -> start of attempt
  Family<Histogram>& job_processing_seconds;          // {backend} start -> end of attempt
  Family<Histogram>& job_end_to_end_seconds;          // {backend} created -> finished
  Family<Gauge>& queue_depth;                         // {backend}
  Family<Counter>& job_redeliveries_total;            // {backend}
  Family<Counter>& job_duplicates_total;              // {backend} finished job delivered again
  Family<Counter>& job_dead_letters_total;            // {backend}

  Family<Gauge>& inflight;                            // {component}
};

}  // namespace mqlab::metrics

#endif  // MQLAB_METRICS_MQLAB_METRICS_H_
