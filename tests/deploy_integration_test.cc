// deploy/ kept honest on a machine without a container engine. Nothing is built or run in a
// container here; what can be checked is checked against the real thing:
//   - docker-compose.yml: every service's build context and Dockerfile, every host file mounted,
//     every depends_on exist; workers are scalable (no container_name, no host port); every
//     `mqlab` command names a real subcommand, only flags and MQLAB_* variables it accepts, and
//     listens beyond loopback; each mqlab service's healthcheck passes against a live process
//     of that kind (and fails on a closed port);
//   - Dockerfile: its build packages and the ones it documents as left out split
//     scripts/setup's list exactly; its runtime stage has every shared library build/mqlab needs;
//   - prometheus.yml: promtool accepts it; every target is a compose service on the port that
//     service serves /metrics on, and every mqlab service is scraped;
//   - Grafana: provisioning points at the mounted dashboards and a datasource the dashboards
//     use; every dashboard parses, with a unique uid and title, queries promtool can parse, and
//     only metric names that live `mqlab serve`, `ocr-server`, `api` and `worker` processes
//     expose.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/client.h"
#include "services/process.h"
#include "tests/support/deploy_files.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::deploy::CommandOutput;
using testing::deploy::HelpOf;
using testing::deploy::ReadText;
using StringSet = std::set<std::string>;

const fs::path kRoot = MQLAB_SOURCE_DIR;
const fs::path kDeploy = kRoot / "deploy";

// n[key], or an undefined node when n is not a map or lacks the key. Unlike yaml-cpp's own
// missing-key node, which throws on any use, it converts to false, iterates as empty and gives
// as<T>(fallback) its fallback: a test then fails with a message, not an exception.
YAML::Node Child(const YAML::Node& n, const std::string& key) {
  if (!n.IsMap() || !n[key]) return YAML::Node(YAML::NodeType::Undefined);
  return n[key];
}
YAML::Node First(const YAML::Node& n) {
  return n.IsSequence() && n.size() > 0 ? n[0] : YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node LoadYaml(const fs::path& path) {
  try {
    return YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << path << " does not parse: " << e.what();
    return YAML::Node();
  }
}

// A sequence of scalars, or a scalar split at spaces (compose accepts both for `command`).
std::vector<std::string> Words(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (const auto& w : n) out.push_back(w.as<std::string>());
  } else if (n.IsScalar()) {
    std::istringstream in(n.as<std::string>());
    for (std::string w; in >> w;) out.push_back(w);
  }
  return out;
}

// depends_on as a list of names or a map of name → {condition}.
std::vector<std::string> DependsOn(const YAML::Node& service) {
  std::vector<std::string> out;
  const YAML::Node d = Child(service, "depends_on");
  if (d.IsSequence()) return Words(d);
  for (const auto& kv : d) out.push_back(kv.first.as<std::string>());
  return out;
}

// `environment` as a map or a list of KEY=VALUE.
std::map<std::string, std::string> Environment(const YAML::Node& service) {
  std::map<std::string, std::string> out;
  const YAML::Node e = Child(service, "environment");
  if (e.IsSequence()) {
    for (const auto& kv : e) {
      std::string s = kv.as<std::string>();
      out[s.substr(0, s.find('='))] =
          s.find('=') == std::string::npos ? "" : s.substr(s.find('=') + 1);
    }
  } else {
    for (const auto& kv : e) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

// The value of `--flag V` or `--flag=V` in a command; "" if absent.
std::string FlagValue(const std::vector<std::string>& cmd, std::string_view flag) {
  for (size_t i = 0; i < cmd.size(); ++i) {
    if (cmd[i] == flag && i + 1 < cmd.size()) return cmd[i + 1];
    if (cmd[i].starts_with(fmt::format("{}=", flag))) return cmd[i].substr(flag.size() + 1);
  }
  return "";
}

// The flag on which a mqlab server serves /metrics and /healthz: a worker's HTTP is its
// metrics listener, the other servers serve everything on --listen.
std::string_view ServingFlag(std::string_view subcommand) {
  return subcommand == "worker" ? "--metrics-listen" : "--listen";
}

class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    compose_ = std::make_unique<YAML::Node>(LoadYaml(kDeploy / "docker-compose.yml"));
  }
  static void TearDownTestSuite() {
    compose_.reset();
    live_.reset();
  }

  static std::map<std::string, YAML::Node> Services() {
    std::map<std::string, YAML::Node> out;
    for (const auto& kv : Child(*compose_, "services")) out[kv.first.as<std::string>()] = kv.second;
    return out;
  }
  // The services that run the mqlab image (built from deploy/Dockerfile), with their commands.
  static std::map<std::string, std::vector<std::string>> MqlabServices() {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [name, s] : Services()) {
      if (Child(s, "build")) out[name] = Words(Child(s, "command"));
    }
    return out;
  }
  static int ServingPort(const std::vector<std::string>& cmd) {
    std::string v = cmd.empty() ? "" : FlagValue(cmd, ServingFlag(cmd[0]));
    return v.empty() ? -1 : std::atoi(v.substr(v.rfind(':') + 1).c_str());
  }
  // The host path a container path of `service` comes from through a ./ bind mount; "" if none.
  static fs::path HostPathOf(const std::string& service, const std::string& container_path) {
    for (const auto& v : Child(Services()[service], "volumes")) {
      if (!v.IsScalar()) continue;
      std::string spec = v.as<std::string>();
      std::string src = spec.substr(0, spec.find(':'));
      std::string dst = spec.substr(src.size() + 1);
      dst = dst.substr(0, dst.find(':'));
      if (!src.starts_with(".")) continue;
      if (container_path == dst) return kDeploy / src;
      if (container_path.starts_with(dst + "/")) {
        return kDeploy / src / container_path.substr(dst.size() + 1);
      }
    }
    return "";
  }

  // One live process of each kind whose /metrics the dashboards read and whose /healthz the
  // healthchecks ask, started on first use and shared by the tests that run in this process
  // (ctest runs each test in a process of its own).
  struct Live {
    testing::TempDir dir{"deploy"};
    std::map<std::string, std::unique_ptr<testing::MqlabProcess>> by_subcommand;
  };
  static Live* StartLive() {
    if (live_) return live_.get();
    auto live = std::make_unique<Live>();
    const std::string pg = testing::TestPostgresUrl();
    if (pg.empty()) return nullptr;
    const std::map<std::string, std::vector<std::string>> args = {
        {"serve", {"serve", "--listen", "127.0.0.1:0"}},
        {"ocr-server", {"ocr-server", "--listen", "127.0.0.1:0"}},
        // Under ctest the api finds the shared servers (MQLAB_RUNTIME_DIR): names of its own.
        {"api",
         {"api", "--listen", "127.0.0.1:0", "--pg-schema", testing::UniqueSchemaName("deploy_api"),
          "--queue-name", testing::UniqueSchemaName("deploy_q")}},
        {"worker",
         {"worker", "--queue", "postgres", "--postgres-url", pg, "--pg-schema",
          testing::UniqueSchemaName("deploy"), "--metrics-listen", "127.0.0.1:0"}}};
    for (auto [sub, a] : args) {
      a.push_back("--data-dir");
      a.push_back((live->dir.path() / sub).string());
      auto p = testing::MqlabProcess::Start(a, live->dir.path() / (sub + ".log"),
                                            sub == "worker" ? "consuming" : "listening on");
      if (!p) {
        ADD_FAILURE() << p.error().ToString();
        return nullptr;
      }
      live->by_subcommand[sub] = std::move(*p);
    }
    live_ = std::move(live);
    return live_.get();
  }
  static int LivePort(Live& live, const std::string& subcommand) {
    auto url = http::ParseHttpUrl(live.by_subcommand.at(subcommand)->url());
    return url ? url->port : -1;
  }

  static std::unique_ptr<YAML::Node> compose_;
  static std::unique_ptr<Live> live_;
};

std::unique_ptr<YAML::Node> DeployTest::compose_;
std::unique_ptr<DeployTest::Live> DeployTest::live_;

TEST_F(DeployTest, ComposeBuildsMountsAndDependenciesExist) {
  ASSERT_TRUE(Child(*compose_, "services").IsMap());
  auto services = Services();
  std::multiset<std::string> roles;
  for (const auto& [name, cmd] : MqlabServices()) roles.insert(cmd.empty() ? "" : cmd[0]);
  EXPECT_EQ(roles.count("api"), 1u);
  EXPECT_GE(roles.count("ocr-server"), 2u) << "V2 spreads over N OCR servers";
  for (const auto& [name, s] : services) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(Child(s, "build") || Child(s, "image")) << "neither build nor image";
    if (const YAML::Node b = Child(s, "build")) {
      fs::path context =
          kDeploy / (b.IsScalar() ? b.as<std::string>() : Child(b, "context").as<std::string>(""));
      fs::path dockerfile = context / Child(b, "dockerfile").as<std::string>("Dockerfile");
      ASSERT_TRUE(fs::is_regular_file(dockerfile)) << dockerfile;
      EXPECT_TRUE(fs::equivalent(dockerfile, kDeploy / "Dockerfile")) << dockerfile;
      EXPECT_TRUE(fs::equivalent(context, kRoot))
          << "the Dockerfile COPYs from the repository's root";
    }
    for (const auto& v : Child(s, "volumes")) {
      std::string src = v.IsMap() ? Child(v, "source").as<std::string>("") : v.as<std::string>();
      src = src.substr(0, src.find(':'));
      if (src.starts_with(".") || src.starts_with("/")) {
        EXPECT_TRUE(fs::exists(kDeploy / src)) << "mounted from the host but missing: " << src;
      } else {
        EXPECT_TRUE(Child(Child(*compose_, "volumes"), src))
            << "named volume not declared: " << src;
      }
    }
    for (const std::string& dep : DependsOn(s)) {
      ASSERT_TRUE(services.contains(dep)) << "depends on a service that does not exist: " << dep;
      const YAML::Node cond = Child(Child(Child(s, "depends_on"), dep), "condition");
      if (cond && cond.as<std::string>() == "service_healthy") {
        EXPECT_TRUE(Child(services[dep], "healthcheck"))
            << dep << " has no healthcheck to wait for";
      }
    }
  }
}

TEST_F(DeployTest, WorkersScaleWithoutContainerNamesOrHostPorts) {
  int workers = 0;
  for (const auto& [name, cmd] : MqlabServices()) {
    if (cmd.empty() || cmd[0] != "worker") continue;
    ++workers;
    const YAML::Node s = Services()[name];
    EXPECT_FALSE(Child(s, "container_name")) << name << ": --scale needs distinct names";
    EXPECT_FALSE(Child(s, "ports")) << name << ": replicas would all bind the same host port";
  }
  EXPECT_EQ(workers, 4) << "one worker service per queue backend";
}

TEST_F(DeployTest, MqlabCommandsUseRealSubcommandsFlagsAndVariables) {
  for (const auto& [name, cmd] : MqlabServices()) {
    SCOPED_TRACE(name);
    ASSERT_FALSE(cmd.empty()) << "the image's default command is --help";
    const auto& help = HelpOf(cmd[0]);
    ASSERT_EQ(help.exit_code, 0) << "mqlab " << cmd[0] << " --help:\n" << help.text;
    for (size_t i = 1; i < cmd.size(); ++i) {
      if (cmd[i].starts_with("--")) {
        std::string flag = cmd[i].substr(0, cmd[i].find('='));
        EXPECT_TRUE(help.flags.contains(flag)) << "mqlab " << cmd[0] << " has no " << flag;
      } else {
        EXPECT_TRUE(cmd[i - 1].starts_with("--")) << "stray argument " << cmd[i];
      }
    }
    for (const auto& [key, value] : Environment(Services()[name])) {
      if (!key.starts_with("MQLAB_")) continue;
      EXPECT_TRUE(help.env.contains(key)) << "mqlab " << cmd[0] << " reads no " << key;
    }
    // The default listen addresses are loopback: unreachable from other containers.
    std::string listen = FlagValue(cmd, ServingFlag(cmd[0]));
    EXPECT_TRUE(listen.starts_with("0.0.0.0:")) << ServingFlag(cmd[0]) << " is '" << listen << "'";
  }
}

TEST_F(DeployTest, HealthchecksOfMqlabServicesPassAgainstLiveProcesses) {
  Live* live = StartLive();
  ASSERT_NE(live, nullptr);
  const std::regex kTarget(R"(/dev/tcp/127\.0\.0\.1/(\d+))");
  for (const auto& [name, cmd] : MqlabServices()) {
    SCOPED_TRACE(name);
    std::vector<std::string> test = Words(Child(Child(Services()[name], "healthcheck"), "test"));
    ASSERT_EQ(test.size(), 4u);
    ASSERT_EQ(fmt::format("{} {} {}", test[0], test[1], test[2]), "CMD bash -c");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(test[3], m, kTarget)) << test[3];
    EXPECT_EQ(std::stoi(m[1]), ServingPort(cmd)) << "the healthcheck asks another port";
    // The same script against a live process of this kind, then against a port nobody serves.
    const std::string live_port = std::to_string(LivePort(*live, cmd[0]));
    auto closed = services::FreeLoopbackPort();
    ASSERT_TRUE(closed);
    const std::vector<std::pair<std::string, bool>> cases = {{live_port, true},
                                                             {std::to_string(*closed), false}};
    for (const auto& [port, want_ok] : cases) {
      std::string script = std::regex_replace(test[3], kTarget, "/dev/tcp/127.0.0.1/" + port);
      CommandOutput r = testing::deploy::Run({"/bin/bash", "-c", script});
      EXPECT_EQ(r.exit_code == 0, want_ok) << "port " << port << ": " << r.output;
    }
  }
}

TEST_F(DeployTest, DockerfileBuildPackagesSplitSetupsListExactly) {
  const std::string dockerfile = ReadText(kDeploy / "Dockerfile");
  auto stages = testing::deploy::DockerStages(dockerfile);
  ASSERT_GE(stages.size(), 2u);
  const StringSet builder = stages.front().apt_packages;
  const StringSet left_out = testing::deploy::CommentList(dockerfile, "not-in-image:");
  const StringSet setup = testing::deploy::SetupPackages(ReadText(kRoot / "scripts" / "setup"));
  ASSERT_FALSE(builder.empty());
  ASSERT_FALSE(setup.empty());
  StringSet both, missing, unknown;
  for (const auto& p : builder) {
    if (left_out.contains(p)) both.insert(p);
    if (!setup.contains(p)) unknown.insert(p);
  }
  for (const auto& p : left_out) {
    if (!setup.contains(p)) unknown.insert(p);
  }
  for (const auto& p : setup) {
    if (!builder.contains(p) && !left_out.contains(p)) missing.insert(p);
  }
  EXPECT_TRUE(both.empty()) << "installed and documented as left out: " << fmt::format("{}", both);
  EXPECT_TRUE(missing.empty()) << "in scripts/setup, neither installed by deploy/Dockerfile's "
                                  "builder nor listed there as not-in-image: "
                               << fmt::format("{}", missing);
  EXPECT_TRUE(unknown.empty()) << "not in scripts/setup: " << fmt::format("{}", unknown);
  // The test and benchmark libraries are left out only because the image builds without them.
  EXPECT_NE(dockerfile.find("-DMQLAB_BUILD_TESTS=OFF"), std::string::npos);
  EXPECT_NE(dockerfile.find("-DMQLAB_BUILD_BENCH=OFF"), std::string::npos);
}

TEST_F(DeployTest, RuntimeStageHasEveryLibraryTheBinaryNeedsAndRunsAsMqlab) {
  const std::string dockerfile = ReadText(kDeploy / "Dockerfile");
  auto stages = testing::deploy::DockerStages(dockerfile);
  ASSERT_GE(stages.size(), 2u);
  const auto& runtime = stages.back();
  StringSet have = runtime.apt_packages;
  for (const auto& p : testing::deploy::CommentList(dockerfile, "in-base-image:")) have.insert(p);
  CommandOutput elf = testing::deploy::Run({"/usr/bin/readelf", "-d", MQLAB_BINARY});
  ASSERT_EQ(elf.exit_code, 0) << elf.output;
  const std::regex kNeeded(R"(\(NEEDED\)[^\[]*\[([^\]]+)\])");
  int needed = 0;
  for (std::sregex_iterator it(elf.output.begin(), elf.output.end(), kNeeded), end; it != end;
       ++it) {
    const std::string lib = (*it)[1];
    // A sanitizer build of this binary needs its runtime; the image is never built with one.
    if (std::regex_search(lib, std::regex("^lib(a|ub|t|l)san"))) continue;
    ++needed;
    StringSet owners = testing::deploy::OwningPackages(lib);
    ASSERT_FALSE(owners.empty()) << "no Debian package has " << lib;
    bool installed = std::ranges::any_of(owners, [&](const auto& p) { return have.contains(p); });
    EXPECT_TRUE(installed) << lib << " (" << fmt::format("{}", owners)
                           << ") is not installed by the runtime stage";
  }
  EXPECT_GT(needed, 5);
  EXPECT_TRUE(std::ranges::any_of(runtime.instructions, [](const std::string& i) {
    return i.starts_with("USER ") && i != "USER root" && i != "USER 0";
  })) << "the runtime stage runs as root";
  EXPECT_TRUE(std::ranges::count(runtime.instructions, R"(ENTRYPOINT ["mqlab"])") == 1);
}

TEST_F(DeployTest, PrometheusScrapesEveryMqlabServiceOnItsPort) {
  const YAML::Node prom = LoadYaml(kDeploy / "prometheus" / "prometheus.yml");
  ASSERT_TRUE(Child(prom, "scrape_configs").IsSequence());
  auto services = Services();
  auto mqlab = MqlabServices();
  StringSet scraped;
  auto check = [&](const std::string& host, int port) {
    ASSERT_TRUE(services.contains(host)) << "scrapes " << host << ", not a compose service";
    scraped.insert(host);
    if (mqlab.contains(host)) {
      EXPECT_EQ(port, ServingPort(mqlab[host])) << host;
    }
  };
  for (const auto& job : Child(prom, "scrape_configs")) {
    SCOPED_TRACE(Child(job, "job_name").as<std::string>(""));
    for (const auto& sc : Child(job, "static_configs")) {
      for (const auto& t : Words(Child(sc, "targets"))) {
        check(t.substr(0, t.rfind(':')), std::atoi(t.substr(t.rfind(':') + 1).c_str()));
      }
    }
    // Scaled replicas share a name: DNS A records find all of them.
    for (const auto& sd : Child(job, "dns_sd_configs")) {
      EXPECT_EQ(Child(sd, "type").as<std::string>(""), "A");
      for (const auto& n : Words(Child(sd, "names"))) check(n, Child(sd, "port").as<int>(-1));
    }
  }
  for (const auto& [name, cmd] : mqlab) EXPECT_TRUE(scraped.contains(name)) << name << " unscraped";
}

// promtool comes with scripts/setup's prometheus package (2.42; the image runs a later 2.x,
// which reads the same configuration and query language).
TEST_F(DeployTest, PromtoolAcceptsTheConfigurationAndEveryDashboardQuery) {
  CommandOutput config =
      testing::deploy::Run({"/usr/bin/promtool", "check", "config",
                            (kDeploy / "prometheus" / "prometheus.yml").string()});
  EXPECT_EQ(config.exit_code, 0) << config.output;
  // Every panel query as a recording rule, so that `promtool check rules` parses it. Grafana's
  // variables get values first: $__rate_interval and friends a range, others a label value.
  json rules = json::array();
  for (const auto& [file, dash] :
       testing::deploy::LoadDashboards(kDeploy / "grafana" / "dashboards")) {
    for (std::string expr : testing::deploy::Expressions(dash, /*promql_only=*/true)) {
      expr = std::regex_replace(expr, std::regex(R"(\$__\w+)"), "1m");
      expr = std::regex_replace(expr, std::regex(R"(\$\w+)"), "x");
      rules.push_back(
          {{"record", fmt::format("dashboard:query_{}", rules.size())}, {"expr", expr}});
    }
  }
  ASSERT_GT(rules.size(), 20u);
  testing::TempDir dir("deploy-rules");
  const fs::path path = dir.path() / "rules.yml";  // JSON is YAML
  json group = {{"name", "dashboards"}, {"rules", rules}};
  std::ofstream(path) << json{{"groups", json::array({group})}}.dump(2);
  CommandOutput check =
      testing::deploy::Run({"/usr/bin/promtool", "check", "rules", path.string()});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(DeployTest, GrafanaProvisionsTheMountedDashboardsAndTheirDatasource) {
  const fs::path prov = HostPathOf("grafana", "/etc/grafana/provisioning");
  ASSERT_TRUE(fs::is_directory(prov) && fs::equivalent(prov, kDeploy / "grafana" / "provisioning"))
      << "Grafana reads its provisioning from /etc/grafana/provisioning";
  const YAML::Node ds = LoadYaml(prov / "datasources" / "prometheus.yml");
  const std::string uid = Child(First(Child(ds, "datasources")), "uid").as<std::string>("");
  auto url = http::ParseHttpUrl(Child(First(Child(ds, "datasources")), "url").as<std::string>(""));
  ASSERT_TRUE(url);
  EXPECT_TRUE(Services().contains(url->host)) << url->host;

  const YAML::Node providers = LoadYaml(prov / "dashboards" / "dashboards.yml");
  const fs::path dir = HostPathOf(
      "grafana",
      Child(Child(First(Child(providers, "providers")), "options"), "path").as<std::string>(""));
  ASSERT_TRUE(fs::equivalent(dir, kDeploy / "grafana" / "dashboards")) << dir;
  std::string home =
      Environment(Services()["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"];
  EXPECT_TRUE(fs::is_regular_file(HostPathOf("grafana", home))) << home;

  for (const auto& [file, dash] : testing::deploy::LoadDashboards(dir)) {
    for (const std::string& used : testing::deploy::DatasourceUids(dash)) {
      EXPECT_EQ(used, uid) << file << " uses a datasource Grafana is not given";
    }
  }
}

TEST_F(DeployTest, DashboardsParseWithUniqueUidsAndTitles) {
  auto dashboards = testing::deploy::LoadDashboards(kDeploy / "grafana" / "dashboards");
  StringSet files, uids, titles;
  for (const auto& [file, dash] : dashboards) {
    SCOPED_TRACE(file);
    files.insert(file);
    ASSERT_TRUE(dash.is_object()) << "does not parse";
    EXPECT_TRUE(uids.insert(dash.value("uid", "")).second) << "uid empty or used twice";
    EXPECT_TRUE(titles.insert(dash.value("title", "")).second) << "title empty or used twice";
    EXPECT_FALSE(testing::deploy::Expressions(dash).empty());
  }
  EXPECT_EQ(files, (StringSet{"api.json", "queues.json", "resources.json", "workers.json"}));
}

TEST_F(DeployTest, DashboardsUseOnlyMetricsThatLiveProcessesExpose) {
  Live* live = StartLive();
  ASSERT_NE(live, nullptr);
  StringSet known;
  for (const auto& [sub, p] : live->by_subcommand) {
    auto url = http::ParseHttpUrl(p->url());
    ASSERT_TRUE(url);
    http::Client client(*url);
    auto res = client.Do(http::Verb::get, "/metrics");
    ASSERT_TRUE(res && res->result_int() == 200) << sub;
    known.merge(testing::deploy::ExposedMetricNames(res->body()));
  }
  ASSERT_TRUE(known.contains("mqlab_job_queue_wait_seconds_bucket"));
  ASSERT_TRUE(known.contains("process_cpu_seconds_total"));
  auto dashboards = testing::deploy::LoadDashboards(kDeploy / "grafana" / "dashboards");
  ASSERT_FALSE(dashboards.empty());
  for (const auto& [file, dash] : dashboards) {
    EXPECT_EQ(testing::deploy::UnknownMetrics(dash, known), StringSet{}) << file;
  }
  // The same check on one of them with a made-up metric added to a panel.
  json broken = dashboards.begin()->second;
  broken["panels"][0]["targets"].push_back({{"expr", "rate(mqlab_made_up_total[1m])"}});
  EXPECT_EQ(testing::deploy::UnknownMetrics(broken, known), StringSet{"mqlab_made_up_total"});
}

// The checker itself, on a fixed exposition: names anywhere a query can hide (nested rows,
// template variables), histogram suffixes only on histograms, and no partial-word matches.
TEST_F(DeployTest, MetricCheckerFlagsMadeUpNames) {
  const StringSet known = testing::deploy::ExposedMetricNames(
      "# HELP mqlab_http_request_duration_seconds Time.\n"
      "# TYPE mqlab_http_request_duration_seconds histogram\n"
      "# TYPE mqlab_jobs_completed_total counter\n"
      "mqlab_jobs_completed_total{backend=\"redis\",status=\"SUCCESS\"} 3\n"
      "# TYPE process_open_fds gauge\n"
      "process_open_fds 12\n");
  const json dash = json::parse(R"json({
    "panels": [
      {"type": "row", "panels": [{"targets": [
        {"expr": "histogram_quantile(0.99, sum by (le) (rate(mqlab_http_request_duration_seconds_bucket[1m])))"},
        {"expr": "rate(mqlab_jobs_completed_total{status=\"FAILED\"}[1m]) / rate(mqlab_made_up_total[1m])"}]}]},
      {"targets": [{"expr": "process_open_fds + my_process_thing + mqlab_jobs_completed_total_count"}]}],
    "templating": {"list": [{"query": {"query": "label_values(process_made_up, job)"}}]}
  })json");
  EXPECT_EQ(
      testing::deploy::UnknownMetrics(dash, known),
      (StringSet{"mqlab_made_up_total", "mqlab_jobs_completed_total_count", "process_made_up"}));
}

}  // namespace
}  // namespace mqlab
