#include "metrics/mqlab_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace mqlab::metrics {
namespace {

TEST(MqlabMetricsTest, RegistersDesignNamesTypesAndLabels) {
  Registry r;
  MqlabMetrics m(r);
  m.http_requests_total.With({"v3", "/v3/ocr/jobs", "202"}).Inc();
  m.http_request_duration_seconds.With({"v3", "/v3/ocr/jobs"}).Observe(0.002);
  m.backpressure_rejections_total.With({"v3"}).Inc();
  m.jobs_enqueued_total.With({"postgres"}).Inc();
  m.jobs_completed_total.With({"postgres", "SUCCESS"}).Inc();
  m.job_queue_wait_seconds.With({"postgres"}).Observe(0.1);
  m.job_processing_seconds.With({"postgres"}).Observe(0.5);
  m.job_end_to_end_seconds.With({"postgres"}).Observe(0.6);
  m.queue_depth.With({"postgres"}).Set(7);
  m.job_redeliveries_total.With({"postgres"}).Inc();
  m.job_duplicates_total.With({"postgres"}).Inc();
  m.job_dead_letters_total.With({"postgres"}).Inc();
  m.inflight.With({"api"}).Set(3);

  const std::string text = r.Render();
  for (const char* expected : {
           "# TYPE mqlab_http_requests_total counter\n",
           "mqlab_http_requests_total{version=\"v3\",route=\"/v3/ocr/jobs\",code=\"202\"} 1\n",
           "# TYPE mqlab_http_request_duration_seconds histogram\n",
           "mqlab_http_request_duration_seconds_count{version=\"v3\",route=\"/v3/ocr/jobs\"} 1\n",
           "# TYPE mqlab_backpressure_rejections_total counter\n",
           "mqlab_backpressure_rejections_total{version=\"v3\"} 1\n",
           "mqlab_jobs_enqueued_total{backend=\"postgres\"} 1\n",
           "mqlab_jobs_completed_total{backend=\"postgres\",status=\"SUCCESS\"} 1\n",
           "# TYPE mqlab_job_queue_wait_seconds histogram\n",
           "mqlab_job_queue_wait_seconds_count{backend=\"postgres\"} 1\n",
           "# TYPE mqlab_job_processing_seconds histogram\n",
           "# TYPE mqlab_job_end_to_end_seconds histogram\n",
           "# TYPE mqlab_queue_depth gauge\n",
           "mqlab_queue_depth{backend=\"postgres\"} 7\n",
           "mqlab_job_redeliveries_total{backend=\"postgres\"} 1\n",
           "mqlab_job_duplicates_total{backend=\"postgres\"} 1\n",
           "mqlab_job_dead_letters_total{backend=\"postgres\"} 1\n",
           "# TYPE mqlab_inflight gauge\n",
           "mqlab_inflight{component=\"api\"} 3\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected;
  }
}

}  // namespace
}  // namespace mqlab::metrics
