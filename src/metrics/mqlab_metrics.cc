#include "metrics/mqlab_metrics.h"

namespace mqlab::metrics {

MqlabMetrics::MqlabMetrics(Registry& r)
    : http_requests_total(r.AddCounter("mqlab_http_requests_total",
                                       "HTTP requests answered, by endpoint family, route "
                                       "pattern and status code.",
                                       {"version", "route", "code"})),
      http_request_duration_seconds(r.AddHistogram(
          "mqlab_http_request_duration_seconds",
          "Time spent handling an HTTP request, by endpoint family and route pattern.",
          {"version", "route"})),
      backpressure_rejections_total(r.AddCounter(
          "mqlab_backpressure_rejections_total",
          "Requests refused by admission control (429 async, 503 sync).", {"version"})),
      jobs_enqueued_total(r.AddCounter("mqlab_jobs_enqueued_total",
                                       "Jobs stored and handed to the queue.", {"backend"})),
      jobs_completed_total(r.AddCounter("mqlab_jobs_completed_total",
                                        "Jobs that reached a terminal status.",
                                        {"backend", "status"})),
      job_queue_wait_seconds(r.AddHistogram(
          "mqlab_job_queue_wait_seconds",
          "Time from enqueue (or retry) to the start of an attempt.", {"backend"})),
      job_processing_seconds(r.AddHistogram("mqlab_job_processing_seconds",
                                            "Duration of one attempt of a job.", {"backend"})),
      job_end_to_end_seconds(r.AddHistogram(
          "mqlab_job_end_to_end_seconds",
          "Time from a job's creation to its terminal status.", {"backend"})),
      queue_depth(r.AddGauge("mqlab_queue_depth", "Messages waiting in the queue (backlog).",
                             {"backend"})),
      job_redeliveries_total(r.AddCounter(
          "mqlab_job_redeliveries_total",
          "Deliveries of a job that had been delivered before (retry, lease expiry, crash).",
          {"backend"})),
      job_duplicates_total(r.AddCounter(
          "mqlab_job_duplicates_total",
          "Deliveries of an already finished job, acknowledged and skipped.", {"backend"})),
      job_dead_letters_total(r.AddCounter("mqlab_job_dead_letters_total",
                                          "Jobs moved to the dead-letter queue or topic.",
                                          {"backend"})),
      inflight(r.AddGauge("mqlab_inflight", "Units of work in progress, by component.",
                          {"component"})) {}

}  // namespace mqlab::metrics
