#!/usr/bin/env bash
# One process-tree sample of a 200-process "build", through the C ABI (what the agent calls
# every interval): builds a tree of a root shell and 199 sleeping children, then times
# im_collector_sample on it (im-tree-sample-bench, built with the agent).
#
#   benches/agent/tree_sample.sh [--processes 200] [--iterations 200] [--bench PATH]
#
# Without --bench it builds the agent's release tree (target/agent-release). The collector
# engineer's criterion bench measures the Rust call directly; this one adds the C ABI and
# includes the system sample that every collector sample takes too.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROCS=200; ITER=200; BENCH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --processes) PROCS="${2:?}"; shift 2 ;;
    --iterations) ITER="${2:?}"; shift 2 ;;
    --bench) BENCH="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tree_sample.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ "$PROCS" =~ ^[0-9]+$ ]] && [ "$PROCS" -ge 1 ] && [ "$PROCS" -le 5000 ] || { echo "--processes must be 1..5000" >&2; exit 2; }
if [ -z "$BENCH" ]; then
  cmake -S "$ROOT/inframind-agent" -B "$ROOT/target/agent-release" -DCMAKE_BUILD_TYPE=Release -DIM_AGENT_TESTS=OFF >&2
  cmake --build "$ROOT/target/agent-release" -j "$(nproc)" --target im-tree-sample-bench >&2
  BENCH="$ROOT/target/agent-release/im-tree-sample-bench"
fi

# The tree: a root shell with PROCS-1 sleeping children (killed by the trap, children first).
bash -c 'n=$1; for ((i = 1; i < n; i++)); do sleep 600 & done; wait' _ "$PROCS" &
ROOTPID=$!
trap 'pkill -TERM -P "$ROOTPID" 2>/dev/null || true; kill "$ROOTPID" 2>/dev/null || true; wait "$ROOTPID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ "$(pgrep -c -P "$ROOTPID" || true)" -ge $((PROCS - 1)) ] && break
  sleep 0.1
done
"$BENCH" "$ROOTPID" "$ITER" >"${TMPDIR:-/tmp}/im-tree-sample.$$"
python3 - "${TMPDIR:-/tmp}/im-tree-sample.$$" "$PROCS" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
want = int(sys.argv[2])
tree = json.loads(lines[0]).get("tree") or {}
got = tree.get("processes")
print(f"tree of {got} processes (wanted {want})")
print(lines[-1])
if got != want:
    sys.exit(f"the collector saw {got} processes, expected {want}")
PY
rm -f "${TMPDIR:-/tmp}/im-tree-sample.$$"
