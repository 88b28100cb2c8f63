// `mqlab ocr-server`: the synchronous model server V0-V2 call.
#include "cli/commands.h"
#include "cli/flags.h"
#include "ocr/ocr_server.h"

namespace mqlab::cli {

namespace {

struct OcrFlags {
  CommonFlags common;
  int concurrency = 1;
  int queue = 100;
  int io_threads = 0;
};

int RunOcrCommand(const OcrFlags& f) {
  if (auto s = f.common.Validate(); !s) return UsageError(s.error().message);
  auto hp = ParseHostPort(f.common.listen);
  ocr::OcrServerConfig c;
  c.http.server.host = hp->host;
  c.http.server.port = hp->port;
  c.http.io_threads = f.io_threads;
  c.data_dir = f.common.data_dir;
  c.model = *f.common.PredictorOptions();
  c.concurrency = f.concurrency;
  c.queue = f.queue;
  c.backpressure = f.common.backpressure_on();
  return ocr::RunOcrServer(c, MakeLogger("ocr-server", f.common.log));
}

}  // namespace

Runner AddOcrServerCommand(CLI::App& root) {
  auto f = std::make_shared<OcrFlags>();
  CLI::App* cmd = root.add_subcommand(
      "ocr-server", "Serve POST /predict: the synchronous OCR model server that V0-V2 call");
  AddCommonFlags(cmd, f->common, "127.0.0.1:8090");
  Flag(cmd, "--concurrency", f->concurrency, "Predictions at once (model instances)")
      ->check(CLI::Range(1, 1024));
  Flag(cmd, "--queue", f->queue, "Predictions waiting (backpressure on); beyond it 503")
      ->check(CLI::Range(0, 1000000));
  Flag(cmd, "--io-threads", f->io_threads, "HTTP threads (0: one per core)")->check(CLI::Range(0, 256));
  return [f] { return RunOcrCommand(*f); };
}

}  // namespace mqlab::cli
