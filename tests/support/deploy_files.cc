#include "tests/support/deploy_files.h"

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "services/process.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::testing::deploy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::string> SplitWords(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

// Packages named by `apt-get install` in one shell command line: the words after "install"
// that are not options, up to the end of that command (&&, ;, ||).
void AddAptPackages(const std::string& command, StringSet& out) {
  std::vector<std::string> words = SplitWords(command);
  bool in_install = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "&&" || w == ";" || w == "||") {
      in_install = false;
    } else if (w == "install" && i > 0 && words[i - 1].ends_with("apt-get")) {
      in_install = true;
    } else if (in_install && !w.starts_with("-")) {
      out.insert(w);
    }
  }
}

void Walk(const json& j, const std::function<void(const std::string& key, const json& value)>& f) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      f(k, v);
      Walk(v, f);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) Walk(v, f);
  }
}

}  // namespace

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandOutput Run(const std::vector<std::string>& argv) {
  TempDir dir("deploy-run");
  const fs::path out = dir.path() / "out.log";
  auto code = services::RunToExit({.argv = argv, .output = out}, std::chrono::seconds(60));
  return CommandOutput{code ? *code : -1, ReadText(out)};
}

const Help& HelpOf(const std::string& subcommand) {
  static std::map<std::string, Help> cache;
  if (auto it = cache.find(subcommand); it != cache.end()) return it->second;
  RunResult r = RunMqlab({subcommand, "--help"});
  Help h{.exit_code = r.exit_code, .text = r.output};
  // CLI11 prints an option as "  --name TYPE…" or "  -h,--help …" at the start of its line.
  static const std::regex kFlag(R"(^\s+(?:-[A-Za-z],)?(--[a-z0-9][a-z0-9-]*))");
  static const std::regex kEnv(R"(Env:(MQLAB_[A-Z0-9_]+))");
  for (const std::string& line : Lines(r.output)) {
    std::smatch m;
    if (std::regex_search(line, m, kFlag)) h.flags.insert(m[1]);
    if (std::regex_search(line, m, kEnv)) h.env.insert(m[1]);
  }
  return cache.emplace(subcommand, std::move(h)).first->second;
}

std::vector<DockerStage> DockerStages(std::string_view dockerfile) {
  std::vector<DockerStage> stages;
  std::string pending;
  for (const std::string& raw : Lines(dockerfile)) {
    std::string line = Trim(raw);
    if (line.empty() || line.starts_with("#")) continue;
    if (line.ends_with("\\")) {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    std::string instruction = Trim(pending + line);
    pending.clear();
    if (instruction.empty()) continue;
    if (instruction.starts_with("FROM ")) stages.emplace_back();
    if (stages.empty()) continue;  // ARG before the first FROM
    stages.back().instructions.push_back(instruction);
    if (instruction.starts_with("RUN ")) AddAptPackages(instruction, stages.back().apt_packages);
  }
  return stages;
}

StringSet CommentList(std::string_view text, std::string_view marker) {
  StringSet out;
  for (const std::string& line : Lines(text)) {
    std::string t = Trim(line);
    size_t at = t.find(marker);
    if (!t.starts_with("#") || at == std::string::npos) continue;
    for (const std::string& w : SplitWords(t.substr(at + marker.size()))) {
      if (w.starts_with("(")) break;
      out.insert(w);
    }
  }
  return out;
}

StringSet SetupPackages(std::string_view setup_script) {
  constexpr std::string_view kStart = "PACKAGES=(";
  StringSet out;
  bool inside = false;
  for (const std::string& line : Lines(setup_script)) {
    std::string t = Trim(line.substr(0, line.find('#')));
    if (!inside && t.starts_with(kStart)) {
      inside = true;
      t = t.substr(kStart.size());
    }
    if (!inside) continue;
    const size_t close = t.find(')');
    for (const std::string& w : SplitWords(t.substr(0, close))) out.insert(w);
    if (close != std::string::npos) break;
  }
  return out;
}

StringSet OwningPackages(const std::string& library) {
  StringSet out;
  CommandOutput r = Run({"/usr/bin/dpkg", "-S", "*/" + library});
  if (r.exit_code != 0) return out;
  // "libpq5:amd64: /usr/lib/…/libpq.so.5", or "a:amd64, b:amd64: /path" when several ship it.
  for (const std::string& line : Lines(r.output)) {
    std::string owners = line.substr(0, line.find(": "));
    std::istringstream in(owners);
    for (std::string p; std::getline(in, p, ',');) out.insert(Trim(p.substr(0, p.find(':'))));
  }
  return out;
}

std::map<std::string, json> LoadDashboards(const fs::path& dir) {
  std::map<std::string, json> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    out[e.path().filename().string()] = json::parse(ReadText(e.path()), nullptr, false);
  }
  return out;
}

std::vector<std::string> Expressions(const json& dashboard, bool promql_only) {
  std::vector<std::string> out;
  Walk(dashboard, [&](const std::string& key, const json& v) {
    if (v.is_string() &&
        (key == "expr" || (!promql_only && (key == "query" || key == "definition")))) {
      out.push_back(v.get<std::string>());
    }
  });
  return out;
}

StringSet DatasourceUids(const json& dashboard) {
  StringSet out;
  Walk(dashboard, [&](const std::string& key, const json& v) {
    if (key == "datasource" && v.is_object() && v.contains("uid")) out.insert(v["uid"]);
  });
  return out;
}

StringSet ExposedMetricNames(std::string_view exposition) {
  StringSet out;
  for (const std::string& line : Lines(exposition)) {
    std::vector<std::string> w = SplitWords(line);
    if (w.size() >= 4 && w[0] == "#" && w[1] == "TYPE") {
      out.insert(w[2]);
      if (w[3] == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(w[2] + suffix);
      }
    } else if (!line.empty() && !line.starts_with("#")) {
      out.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return out;
}

StringSet UnknownMetrics(const json& dashboard, const StringSet& known) {
  // A name starts after a character that cannot be part of an identifier (so that
  // "my_process_x" is not read as "process_x").
  static const std::regex kName(R"((^|[^A-Za-z0-9_:])((?:mqlab|process)_[A-Za-z0-9_:]*))");
  StringSet out;
  for (const std::string& expr : Expressions(dashboard)) {
    for (std::sregex_iterator it(expr.begin(), expr.end(), kName), end; it != end; ++it) {
      if (!known.contains((*it)[2])) out.insert((*it)[2]);
    }
  }
  return out;
}

}  // namespace mqlab::testing::deploy
