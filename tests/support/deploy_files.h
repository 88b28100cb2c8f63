// Readers for the files under deploy/ and the facts they are checked against, for
// tests/deploy_integration_test.cc: the Dockerfile's stages and package lists, scripts/setup's
// package list, `mqlab <sub> --help`, the Debian package owning a library, Grafana dashboards
// and the metric names a /metrics page exposes. Plain text and JSON only (the YAML files are
// read by the test itself with yaml-cpp, which only the integration tests link).
//
// Threading: HelpOf caches in a static map without a lock; call it from one thread.
#ifndef MQLAB_TESTS_SUPPORT_DEPLOY_FILES_H_
#define MQLAB_TESTS_SUPPORT_DEPLOY_FILES_H_

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mqlab::testing::deploy {

using StringSet = std::set<std::string>;

// The whole file; "" if unreadable.
std::string ReadText(const std::filesystem::path& path);

// Runs argv (argv[0] a path, no shell) to its end, at most 60 s. exit_code is -1 on timeout.
struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandOutput Run(const std::vector<std::string>& argv);

// `mqlab <subcommand> --help`: its exit code, text, long flags ("--listen") and the
// environment variables it reads ("MQLAB_LISTEN"). Cached per subcommand.
struct Help {
  int exit_code = -1;
  std::string text;
  StringSet flags;
  StringSet env;
};
const Help& HelpOf(const std::string& subcommand);

// One FROM … stage of a Dockerfile: its instructions with continuation lines joined and
// comments dropped, and the packages its `apt-get install` commands name.
struct DockerStage {
  std::vector<std::string> instructions;
  StringSet apt_packages;
};
std::vector<DockerStage> DockerStages(std::string_view dockerfile);

// Words after `marker` on comment lines ("#   not-in-image: a b  (why)" → a, b), up to a word
// that starts with '('.
StringSet CommentList(std::string_view text, std::string_view marker);

// The entries of the PACKAGES=( … ) array in scripts/setup.
StringSet SetupPackages(std::string_view setup_script);

// The Debian packages (without ":arch") that ship a file named `library` (dpkg -S).
StringSet OwningPackages(const std::string& library);

// Every *.json in `dir` by file name; a file that does not parse maps to a non-object.
std::map<std::string, nlohmann::json> LoadDashboards(const std::filesystem::path& dir);

// Every query string of a dashboard: "expr", "query" and "definition" values at any depth
// (panels inside rows, template variables); with `promql_only`, the panels' "expr" only
// (a template variable's label_values(…) is Grafana's, not PromQL).
std::vector<std::string> Expressions(const nlohmann::json& dashboard, bool promql_only = false);

// The uid of every "datasource" object at any depth.
StringSet DatasourceUids(const nlohmann::json& dashboard);

// The series names a Prometheus text exposition offers a query: every family of a # TYPE line
// (a histogram as its _bucket, _sum and _count series; its base name too) and every sample's.
StringSet ExposedMetricNames(std::string_view exposition);

// The mqlab_* and process_* names in the dashboard's queries that are not in `known`.
StringSet UnknownMetrics(const nlohmann::json& dashboard, const StringSet& known);

}  // namespace mqlab::testing::deploy

#endif  // MQLAB_TESTS_SUPPORT_DEPLOY_FILES_H_
