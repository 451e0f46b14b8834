// Command-line options of inframind-agent: parsed strictly, every error names the flag and the
// value so that the usage message plus this line tell the user how to fix the command.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace inframind_agent {

/// What the command line asks for.
struct Options {
  std::string listen_host = "0.0.0.0";
  int listen_port = 9102;       // 0 = any free port (the chosen one is logged)
  double interval_seconds = 1.0;
  std::optional<std::string> log_json;  // path, or "-" for stdout
  int32_t pid = 0;              // 0 = no process tree
  bool cache = false;
  bool help = false;
  bool version = false;
};

/// Result of parsing: either options or an error message (exit code 2 with the usage).
struct ParseResult {
  Options options;
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
};

/// Parses argv[1..]. Accepts `--flag VALUE` and `--flag=VALUE`.
ParseResult parse_options(const std::vector<std::string> &args);

/// The usage text (ends with a newline).
std::string usage(const std::string &program);

}  // namespace inframind_agent
