// `mqlab ocr-server`: the synchronous OCR server that V0-V2 call (the original study's FastAPI
// model server). `POST /predict {"inputPath": …}` runs the model with at most `concurrency`
// predictions at once (default 1: one model instance); the rest wait in a bounded queue
// (`queue`, default 100) and beyond it get 503 with Retry-After (backpressure on) — or wait up to
// the hard cap (off). Also `/healthz`, `/readyz`, `/metrics`.
//
// Answer: 200 {"inputPath","outputPath","serviceMs","requestId"}; 400 for a bad body or a path
// outside the data folder; 500 {"error":"model_failed"} for a failed prediction.
//
// Threading: the HTTP side is coroutines; predictions run on a pool of `concurrency` threads.
#ifndef MQLAB_OCR_OCR_SERVER_H_
#define MQLAB_OCR_OCR_SERVER_H_

#include <filesystem>
#include <memory>

#include <spdlog/logger.h>

#include "app/http_runtime.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "mqlab/model/predictor.h"

namespace mqlab::ocr {

struct OcrServerConfig {
  app::HttpRuntimeOptions http;
  std::filesystem::path data_dir = "./data";
  model::PredictorOptions model;
  int concurrency = 1;   // Default: 1 (one model instance)
  int queue = 100;       // Default: 100 waiting predictions
  bool backpressure = true;
  int hard_cap = 10000;  // Default: 10000 waiting when backpressure is off

  Status Validate() const;
};

class OcrServer {
 public:
  static Result<std::unique_ptr<OcrServer>> Create(const OcrServerConfig& config,
                                                   std::shared_ptr<spdlog::logger> log);
  ~OcrServer();
  Status Start();
  void Stop();
  std::string BaseUrl() const;

 private:
  struct Impl;
  explicit OcrServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The subcommand: runs until SIGINT/SIGTERM. Returns the exit code.
int RunOcrServer(const OcrServerConfig& config, std::shared_ptr<spdlog::logger> log);

}  // namespace mqlab::ocr

#endif  // MQLAB_OCR_OCR_SERVER_H_
