#!/usr/bin/env bash
# The attack set against inframind-server, measured: a person runs it, CI does not.
#
#   benches/server/attack.sh [--out FILE]
#
# Builds the release binary, starts `inframind-server --demo` on a free 127.0.0.1 port (SQLite
# in a temp dir, the default limits) and runs benches/server/attack.py against it: 1,000
# invented HTTP methods, 1,000 unknown paths, 200 trickling connections, 1,000 silent sockets,
# policies with pathological regexes (422), 600 /optimize calls with 1 MiB pipeline names (422),
# a body with trailing garbage (422), 100 steps each delivered 3 times, while another process
# times GET /healthz on a fresh connection every 20 ms. Prints each attack's expected and actual
# answers, the server's peak RSS (VmHWM) and the /healthz p50/p99/max. Targets: RSS < 150 MiB,
# /healthz p99 < 50 ms. Exit 0 when every attack got its answer and both targets are met.
# Loopback only, every loop bounded; the server (our own child) is stopped by its pid.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/lib.sh"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

python="$(im_venv)"
cd "$root"
cargo build --release --locked -p server-example --bin inframind-server >&2
bin="$root/target/release/inframind-server"

work="$(mktemp -d /tmp/im-attack.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
env -u INFRAMIND_TOKEN -u INFRAMIND_MAX_CONNECTIONS -u INFRAMIND_HEADER_TIMEOUT \
  -u INFRAMIND_IDLE_TIMEOUT RUST_LOG=warn \
  "$bin" --demo --db "sqlite://$work/attack.db" --model-dir "$work/models" \
  --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

report() {
  echo "inframind-server attack set, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "command: benches/server/attack.sh (release build, --demo, SQLite, default limits)"
  echo "machine: $(nproc) cores, $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "server: pid $pid on 127.0.0.1:$port, open-file limit $(awk '/Max open files/ {print $4}' /proc/$pid/limits)"
  echo
  status=0
  "$python" "$here/attack.py" --port "$port" --pid "$pid" --token demo --header-timeout 10 || status=$?
  kill -0 "$pid" 2>/dev/null && echo "server still running after the attack: yes" \
    || echo "server still running after the attack: NO"
  echo
  echo "server warnings and errors:"
  # grep finds nothing in a clean log: not a failure of the report.
  echo "  lines: $(grep -cE ' (WARN|ERROR) ' "$work/server.log" || true)"
  { grep -E ' (WARN|ERROR) ' "$work/server.log" || true; } | sed -E 's/^[^ ]+ +//; s/[0-9]+/N/g' \
    | sort | uniq -c | sort -rn | head -10 | cut -c1-200
  return "$status"
}
if [ -n "$out" ]; then
  mkdir -p "$(dirname "$out")"
  report 2>&1 | tee "$out"
  exit "${PIPESTATUS[0]}"
else
  report
fi
