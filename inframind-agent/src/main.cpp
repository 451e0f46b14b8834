// inframind-agent: serves libinframind's system and build metrics over HTTP for Prometheus.
#include "agent.hpp"
#include "log.hpp"
#include "options.hpp"

#include <inframind.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#ifndef IM_AGENT_VERSION
#define IM_AGENT_VERSION "0.0.0"
#endif

int main(int argc, char **argv) {
  using namespace inframind_agent;
  const std::string program = "inframind-agent";
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseResult parsed = parse_options(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s: error: %s\n\n%s", program.c_str(), parsed.error.c_str(),
                 usage(program).c_str());
    return 2;
  }
  if (parsed.options.help) {
    std::fputs(usage(program).c_str(), stdout);
    return 0;
  }
  if (parsed.options.version) {
    std::printf("inframind-agent %s (libinframind %s)\n", IM_AGENT_VERSION, im_version());
    return 0;
  }
  try {
    return run_agent(parsed.options);
  } catch (const std::exception &e) {
    log_error("fatal error", {{"error", e.what()}});
    return 1;
  }
}
