#include "options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace inframind_agent {
namespace {

// Longest interval accepted: a day. Longer is almost surely a typo (milliseconds for seconds).
constexpr double kMaxIntervalSeconds = 86400.0;

bool is_hostname(const std::string &h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string parse_listen(const std::string &v, Options &o) {
  std::string host, port;
  if (!v.empty() && v[0] == '[') {
    auto close = v.find("]:");
    if (close == std::string::npos)
      return "--listen '" + v + "': an IPv6 address is written [ADDR]:PORT, e.g. [::1]:9102";
    host = v.substr(1, close - 1);
    port = v.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      return "--listen '" + v + "': '" + host + "' is not an IPv6 address";
  } else {
    auto colon = v.rfind(':');
    if (colon == std::string::npos)
      return "--listen '" + v + "': expected ADDR:PORT, e.g. 127.0.0.1:9102";
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return "--listen '" + v + "': write an IPv6 address in brackets, e.g. [::1]:9102";
    if (!is_hostname(host))
      return "--listen '" + v + "': '" + host +
             "' is not an address or host name (e.g. 0.0.0.0, 127.0.0.1, localhost)";
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return "--listen '" + v + "': the port must be a number from 0 to 65535";
  long p = std::strtol(port.c_str(), nullptr, 10);
  if (p > 65535) return "--listen '" + v + "': the port must be a number from 0 to 65535";
  o.listen_host = host;
  o.listen_port = static_cast<int>(p);
  return {};
}

std::string parse_interval(const std::string &v, Options &o) {
  const std::string hint = " (seconds between samples, more than 0 and at most 86400, e.g. 1 or 0.5)";
  if (v.empty() || v.find_first_not_of("0123456789.eE+-") != std::string::npos)
    return "--interval '" + v + "': not a number" + hint;
  errno = 0;
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (errno != 0 || end == nullptr || *end != '\0' || !std::isfinite(d))
    return "--interval '" + v + "': not a number" + hint;
  if (!(d > 0.0) || d > kMaxIntervalSeconds) return "--interval '" + v + "': out of range" + hint;
  o.interval_seconds = d;
  return {};
}

std::string parse_pid(const std::string &v, Options &o) {
  if (v.empty() || v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos)
    return "--pid '" + v + "': expected a process id (a whole number from 1 to 2147483647)";
  long long p = std::strtoll(v.c_str(), nullptr, 10);
  if (p < 1 || p > std::numeric_limits<int32_t>::max())
    return "--pid '" + v + "': expected a process id (a whole number from 1 to 2147483647)";
  o.pid = static_cast<int32_t>(p);
  return {};
}

}  // namespace

ParseResult parse_options(const std::vector<std::string> &args) {
  ParseResult r;
  Options &o = r.options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      auto eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    } else {
      r.error = "unexpected argument '" + arg + "' (the agent takes only --flags)";
      return r;
    }
    auto takes_value = [&](std::string &out) -> bool {
      if (inline_value) {
        out = *inline_value;
        return true;
      }
      if (i + 1 >= args.size()) {
        r.error = arg + " needs a value";
        return false;
      }
      out = args[++i];
      return true;
    };
    auto no_value = [&]() -> bool {
      if (inline_value) {
        r.error = arg + " takes no value (got '" + *inline_value + "')";
        return false;
      }
      return true;
    };
    std::string v;
    if (arg == "--listen") {
      if (!takes_value(v)) return r;
      r.error = parse_listen(v, o);
    } else if (arg == "--interval") {
      if (!takes_value(v)) return r;
      r.error = parse_interval(v, o);
    } else if (arg == "--log-json") {
      if (!takes_value(v)) return r;
      if (v.empty()) r.error = "--log-json needs a file path, or - for stdout";
      else o.log_json = v;
    } else if (arg == "--pid") {
      if (!takes_value(v)) return r;
      r.error = parse_pid(v, o);
    } else if (arg == "--cache") {
      if (!no_value()) return r;
      o.cache = true;
    } else if (arg == "--help") {
      if (!no_value()) return r;
      o.help = true;
    } else if (arg == "--version") {
      if (!no_value()) return r;
      o.version = true;
    } else {
      r.error = "unknown flag '" + arg + "'";
    }
    if (!r.error.empty()) return r;
  }
  return r;
}

std::string usage(const std::string &program) {
  return "Usage: " + program + " [OPTIONS]\n"
         "\n"
         "Serves system and build metrics measured by libinframind at GET /metrics\n"
         "(Prometheus text format 0.0.4). Sampling runs on its own thread every interval.\n"
         "\n"
         "Options:\n"
         "  --listen ADDR:PORT  address to serve on (default 0.0.0.0:9102; IPv6 as [::1]:9102;\n"
         "                      port 0 picks a free port and logs it)\n"
         "  --interval SECONDS  seconds between samples, > 0 (default 1; fractions allowed)\n"
         "  --log-json PATH|-   append each sample as one JSON object per line to PATH\n"
         "                      (- = stdout)\n"
         "  --pid PID           also watch the process tree rooted at PID (a build)\n"
         "  --cache             also report ccache/sccache hits, misses and hit ratio\n"
         "  --version           print the agent and library versions and exit\n"
         "  --help              print this help and exit\n"
         "\n"
         "Logs go to stderr as one JSON object per line. Exit status: 0 on success and after\n"
         "SIGTERM/SIGINT, 1 on a runtime error (cannot bind, cannot open the log, no such\n"
         "pid), 2 on a bad command line.\n";
}

}  // namespace inframind_agent
