# shellcheck shell=bash
# Helpers for the agent's shell tests. Source, do not run.
# Each test: `source lib.sh`, call im_test_init, use the helpers; the trap kills what it started.

IM_PIDS=()
IM_TMP=""
IM_FAILS=0
IM_CHECKS=0

im_test_init() {
  IM_TMP="$(mktemp -d "${TMPDIR:-/tmp}/im-agent-test.XXXXXX")"
  trap im_test_cleanup EXIT
  trap 'exit 130' INT TERM
}

im_test_cleanup() {
  local p
  for p in "${IM_PIDS[@]}"; do
    pkill -TERM -P "$p" 2>/dev/null || true  # its children first (by parent id), e.g. a fake build's sleeps
    kill "$p" 2>/dev/null || true
  done
  for p in "${IM_PIDS[@]}"; do
    # bounded: a process that ignores SIGTERM gets SIGKILL after 5 s
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ -n "$IM_TMP" ] && [ -z "${IM_KEEP_TMP:-}" ]; then rm -rf "$IM_TMP"; fi
}

# A missing external tool: skip (ctest exit code 77), or fail under CI=true.
im_need() {
  local tool="$1" pkg="$2"
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "FAIL: $tool not found (Debian package $pkg); CI=true forbids skipping" >&2
      exit 1
    fi
    echo "SKIP: $tool not found (install Debian package $pkg)" >&2
    exit 77
  fi
}

ok() { IM_CHECKS=$((IM_CHECKS + 1)); echo "ok   $*"; }
fail() { IM_CHECKS=$((IM_CHECKS + 1)); IM_FAILS=$((IM_FAILS + 1)); echo "FAIL $*" >&2; }
check() { # check "description" command...
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
im_finish() {
  echo "$((IM_CHECKS - IM_FAILS))/$IM_CHECKS checks passed"
  [ "$IM_FAILS" -eq 0 ]
}

# A free loopback TCP port (the kernel picks it; tiny race until our server binds it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: until URL answers 200 (bounded). Returns 1 on timeout.
wait_http() {
  local url="$1" secs="$2"
  for _ in $(seq $((secs * 10))); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# wait_exit PID SECONDS: waits (bounded) for our child PID to exit and sets EXIT_RC to its exit
# code; after SECONDS it is killed with SIGKILL and EXIT_RC is "timeout". Not in a subshell:
# only the parent shell can wait for its child. Polls /proc (a zombie has exited) instead of
# arming a timer subshell: a subshell signalled before it has reset the traps it inherited runs
# this script's `exit 130` trap, whose cleanup then deletes $IM_TMP under the running test.
# shellcheck disable=SC2034 # EXIT_RC is read by the caller
wait_exit() {
  local pid="$1" secs="$2" stat i
  for ((i = 0; i < secs * 10; i++)); do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || break  # gone: reaped already
    stat="${stat##*) }"                                    # after the command name
    [ "${stat%% *}" = Z ] && break                         # exited, not yet reaped
    sleep 0.1
  done
  EXIT_RC=0
  if [ "$i" -ge $((secs * 10)) ]; then
    kill -9 "$pid" 2>/dev/null
    echo "wait_exit: $pid still running after $secs s, killed" >&2
    wait "$pid" 2>/dev/null
    EXIT_RC=timeout
    return
  fi
  wait "$pid" || EXIT_RC=$?
}

# Every line of FILE is a JSON object (python3 json.loads). Empty file passes only with ALLOW_EMPTY=1.
json_lines_ok() {
  python3 - "$1" "${2:-}" <<'PY'
import json, sys
path, need = sys.argv[1], sys.argv[2]
lines = [l for l in open(path, encoding="utf-8").read().splitlines()]
if not lines:
    print(f"{path}: no lines", file=sys.stderr); sys.exit(1)
for n, l in enumerate(lines, 1):
    try:
        v = json.loads(l)
    except Exception as e:
        print(f"{path}:{n}: not JSON ({e}): {l[:200]}", file=sys.stderr); sys.exit(1)
    if not isinstance(v, dict):
        print(f"{path}:{n}: not a JSON object: {l[:200]}", file=sys.stderr); sys.exit(1)
    if need and need not in v:
        print(f"{path}:{n}: no key {need!r}: {l[:200]}", file=sys.stderr); sys.exit(1)
PY
}
