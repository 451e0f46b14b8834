#!/usr/bin/env bash
# The C++ agent (inframind-agent/, C++17 on libinframind's C ABI): builds it with CMake (which
# runs `cargo build -p inframind-c`, debug profile), once plainly with -Werror and once under
# AddressSanitizer + UBSan, and runs its ctest suite on both: flag parsing and exit codes,
# /metrics content and 404s, `promtool check metrics` on a real scrape, the HTTP layer's limits
# (Boost.Beast: read timeout, request size, [::1] with port 0), JSON log lines, SIGTERM and
# SIGINT exits, a watched process tree, and (plain build) the end-to-end test with a real
# Prometheus server scraping the agent (inframind-agent/tests/e2e_prometheus.sh).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

need_pkgs=(cmake g++ make libboost-dev nlohmann-json3-dev prometheus curl)
im_apt_install "${need_pkgs[@]}" || true
missing=()
for tool in cmake g++ make promtool prometheus curl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f /usr/include/boost/beast/http.hpp ] || missing+=("libboost-dev")
[ -f /usr/include/nlohmann/json.hpp ] || missing+=("nlohmann-json3-dev")
if [ ${#missing[@]} -gt 0 ]; then
  im_skip "45-agent" "missing ${missing[*]} (Debian packages: ${need_pkgs[*]})"
  exit $?
fi
im_log "cmake $(cmake --version | head -1 | awk '{print $3}'), $(g++ --version | head -1), $(prometheus --version 2>&1 | head -1)"

jobs="$(nproc)"
build="$IM_ROOT/target/agent-suite"
asan="$IM_ROOT/target/agent-suite-asan"

im_log "configure + build the agent (debug library, -Werror)"
timeout 300 cmake -S inframind-agent -B "$build" -DIM_AGENT_WERROR=ON >&2
timeout 1800 cmake --build "$build" -j "$jobs" >&2

im_log "ctest: cli, http, e2e with Prometheus"
timeout 600 ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 240

im_log "configure + build the agent under AddressSanitizer + UBSan"
timeout 300 cmake -S inframind-agent -B "$asan" -DIM_AGENT_WERROR=ON \
  -DIM_AGENT_SANITIZE=address,undefined >&2
timeout 1800 cmake --build "$asan" -j "$jobs" --target inframind-agent >&2
im_log "ctest under ASan/UBSan: cli, http (leaks or undefined behaviour fail the exit-code checks)"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87" \
  timeout 600 ctest --test-dir "$asan" --output-on-failure --no-tests=error --timeout 240 \
  -R 'agent_(cli|http)'
