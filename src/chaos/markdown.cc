// chaos.md: the stability table of a chaos run and how to read it.
#include <fmt/format.h>

#include "chaos/chaos.h"
#include "report/stability.h"

namespace mqlab::chaos {

using nlohmann::json;

std::string ChaosMarkdown(const json& doc) {
  std::string md = "# mqlab chaos — " + doc.value("startedAt", std::string("?")) + "\n\n";
  const json& p = doc["parameters"];
  const json& m = doc["machine"];
  md += fmt::format(
      "- **Machine:** {} · {} cores · {:.1f} GiB · {}\n"
      "- **Load:** {}/s for {} s per backend, {} workers, model {} ms fixed (sleep)\n"
      "- **Faults:** kill -9 of a random worker every {} s (a replacement started at once); one "
      "restart of the backend's server at 30 % (workers frozen {} s before it, so it meets a "
      "backlog); one restart of the PostgreSQL job store at 60 %\n"
      "- **Recovery settings:** worker lease {} s (PostgreSQL lease, Redis XAUTOCLAIM idle time), "
      "Kafka session timeout {} s, RabbitMQ redelivers when the consumer's connection drops; "
      "client timeout {} s; drain up to {} s\n\n",
      m.value("cpu", "?"), m.value("cores", 0), m.value("memoryGiB", 0.0), m.value("kernel", "?"),
      p["rate"].get<double>(), p["seconds"].get<double>(), p["workers"].get<int>(),
      p["serviceMs"].get<double>(), p["killEverySeconds"].get<double>(),
      p["backlogSeconds"].get<double>(), p["leaseSeconds"].get<double>(),
      p["kafkaSessionTimeoutSeconds"].get<double>(), p["clientTimeoutSeconds"].get<double>(),
      p["drainTimeoutSeconds"].get<double>());
  report::Table t = report::StabilityTable(doc);
  md += "## " + t.title + "\n\n" + report::EscapeMarkdown(t.caption) + "\n\n" +
        report::MarkdownTable(t) + "\n";
  std::vector<std::string> why;
  if (ExpectationsMet(doc, &why)) {
    md += "Every durable backend lost 0 accepted jobs, and no client request hung.\n";
  } else {
    md += "**Expectations not met:**\n\n";
    for (const auto& w : why) md += "- " + report::EscapeMarkdown(w) + "\n";
  }
  return md;
}

}  // namespace mqlab::chaos
