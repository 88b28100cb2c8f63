#include "http/router.h"

#include <algorithm>
#include <set>

#include "http/json_response.h"

namespace mqlab::http {
namespace {

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}. Views into `path`.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool IsParamName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::string_view RouteParams::Get(std::string_view name) const {
  for (const auto& [n, v] : items_) {
    if (n == name) return v;
  }
  return {};
}

bool RouteParams::Has(std::string_view name) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const auto& kv) { return kv.first == name; });
}

struct Router::Route {
  Verb method;
  RouteHandler handler;
};

struct Router::Pattern {
  struct Segment {
    bool param = false;
    std::string text;  // the literal, or the parameter's name
  };
  std::string text;  // as registered
  std::vector<Segment> segments;
  std::vector<Route> routes;

  // Same shape: parameter names do not count.
  bool SameShape(const Pattern& o) const {
    if (segments.size() != o.segments.size()) return false;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].param != o.segments[i].param) return false;
      if (!segments[i].param && segments[i].text != o.segments[i].text) return false;
    }
    return true;
  }
  bool Matches(const std::vector<std::string_view>& path) const {
    if (path.size() != segments.size()) return false;
    for (size_t i = 0; i < path.size(); ++i) {
      if (segments[i].param ? path[i].empty() : path[i] != segments[i].text) return false;
    }
    return true;
  }
  // True if this pattern takes precedence over `o` (both matching the same path): a literal at
  // the first segment where they differ in kind.
  bool MoreSpecificThan(const Pattern& o) const {
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].param != o.segments[i].param) return !segments[i].param;
    }
    return false;
  }
};

Router::Router() = default;
Router::~Router() = default;

Status Router::Add(Verb method, std::string_view pattern, RouteHandler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    return InvalidArgument("route pattern must start with '/': " + std::string(pattern));
  }
  auto candidate = std::make_unique<Pattern>();
  candidate->text = pattern;
  std::set<std::string_view> names;
  for (std::string_view seg : SplitPath(candidate->text)) {
    Pattern::Segment s;
    if (seg.find_first_of("{}") != std::string_view::npos) {
      if (seg.size() < 2 || seg.front() != '{' || seg.back() != '}' ||
          !IsParamName(seg.substr(1, seg.size() - 2))) {
        return InvalidArgument("bad parameter segment '" + std::string(seg) + "' in " +
                               std::string(pattern) + " (want {name}, name in [A-Za-z0-9_])");
      }
      s.param = true;
      s.text = seg.substr(1, seg.size() - 2);
      if (!names.insert(seg).second) {
        return InvalidArgument("parameter " + std::string(seg) + " repeated in " +
                               std::string(pattern));
      }
    } else {
      s.text = seg;
    }
    candidate->segments.push_back(std::move(s));
  }
  Pattern* target = nullptr;
  for (auto& p : patterns_) {
    if (!p->SameShape(*candidate)) continue;
    if (p->text != candidate->text) {
      return InvalidArgument(std::string(pattern) + " conflicts with " + p->text +
                             " (same path, other parameter names)");
    }
    target = p.get();
  }
  if (target == nullptr) {
    patterns_.push_back(std::move(candidate));
    target = patterns_.back().get();
  }
  for (const Route& r : target->routes) {
    if (r.method == method) {
      return AlreadyExists(std::string(beast::http::to_string(method)) + " " +
                           std::string(pattern) + " is already routed");
    }
  }
  target->routes.push_back(Route{method, std::move(handler)});
  return Ok();
}

Router::Match Router::Find(Verb method, std::string_view target) const {
  Match m;
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  const std::vector<std::string_view> segments = SplitPath(path);
  const Pattern* best = nullptr;
  for (const auto& p : patterns_) {
    if (p->Matches(segments) && (best == nullptr || p->MoreSpecificThan(*best))) best = p.get();
  }
  if (best == nullptr) return m;
  m.pattern = best->text;
  for (const Route& r : best->routes) {
    if (r.method == method) {
      m.outcome = Outcome::kFound;
      m.handler = &r.handler;
      for (size_t i = 0; i < segments.size(); ++i) {
        if (best->segments[i].param) m.params.Add(best->segments[i].text, segments[i]);
      }
      return m;
    }
  }
  m.outcome = Outcome::kMethodNotAllowed;
  for (const Route& r : best->routes) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += beast::http::to_string(r.method);
  }
  return m;
}

net::awaitable<Response> Router::Handle(Request request) const {
  const auto start = std::chrono::steady_clock::now();
  Match m = Find(request.method(), request.target());
  Response res;
  switch (m.outcome) {
    case Outcome::kFound:
      res = co_await (*m.handler)(request, m.params);
      break;
    case Outcome::kMethodNotAllowed:
      res = JsonError(HttpStatus::method_not_allowed, "method_not_allowed",
                      std::string(request.method_string()) + " is not allowed on " +
                          std::string(m.pattern) + "; allowed: " + m.allow);
      res.set(Field::allow, m.allow);
      break;
    case Outcome::kNotFound: {
      std::string_view target = request.target();
      res = JsonError(HttpStatus::not_found, "not_found",
                      "no route for " + std::string(request.method_string()) + " " +
                          std::string(target.substr(0, target.find_first_of("?#"))));
      break;
    }
  }
  if (observer_) observer_(request, m.pattern, res, std::chrono::steady_clock::now() - start);
  co_return res;
}

Handler Router::AsHandler() const {
  return [this](Request request) { return Handle(std::move(request)); };
}

}  // namespace mqlab::http
