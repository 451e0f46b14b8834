#!/usr/bin/env bash
# One process-tree sample of a 200-process "build", through the C ABI (what the agent calls
# every interval): builds a tree of a root shell and 199 children, then times
# im_collector_sample on it (im-tree-sample-bench, built with the agent).
#
#   benches/agent/tree_sample.sh [--processes 200] [--iterations 200] [--busy 0]
#                                [--busy-period-ms 10] [--interval-ms 0] [--bench PATH]
#
# The children sleep, except --busy N of them: bash loops that wake every --busy-period-ms
# (a timed `read` on a FIFO nobody writes, so waking costs no fork), count to 10, and every
# 50th time start a /bin/true, so they run, and now and then fork and reap. With
# --interval-ms M the bench sleeps M ms between samples (only the samples are timed):
# `--busy 199 --interval-ms 50` is the worst case, every member changed since the last
# sample. 199 busy children waking every 10 ms take most of a 2-core machine, so the sampler
# also waits for a CPU; `--busy-period-ms 40` still changes every member between samples
# 50 ms apart with the CPUs mostly free. Prints min / median / p95 / p99 / mean ms per sample.
#
# Without --bench it builds the agent's release tree (target/agent-release). The collector
# engineer's criterion bench measures the Rust call directly; this one adds the C ABI and
# includes the system sample that every collector sample takes too.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROCS=200; ITER=200; BUSY=0; PERIOD=10; INTERVAL=0; BENCH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --processes) PROCS="${2:?}"; shift 2 ;;
    --iterations) ITER="${2:?}"; shift 2 ;;
    --busy) BUSY="${2:?}"; shift 2 ;;
    --busy-period-ms) PERIOD="${2:?}"; shift 2 ;;
    --interval-ms) INTERVAL="${2:?}"; shift 2 ;;
    --bench) BENCH="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tree_sample.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ "$PROCS" =~ ^[0-9]+$ ]] && [ "$PROCS" -ge 1 ] && [ "$PROCS" -le 5000 ] || { echo "--processes must be 1..5000" >&2; exit 2; }
[[ "$BUSY" =~ ^[0-9]+$ ]] && [ "$BUSY" -lt "$PROCS" ] || { echo "--busy must be 0..$((PROCS - 1)) (the children of the root)" >&2; exit 2; }
[[ "$PERIOD" =~ ^[0-9]+$ ]] && [ "$PERIOD" -ge 1 ] && [ "$PERIOD" -le 10000 ] || { echo "--busy-period-ms must be 1..10000" >&2; exit 2; }
[[ "$INTERVAL" =~ ^[0-9]+$ ]] && [ "$INTERVAL" -le 60000 ] || { echo "--interval-ms must be 0..60000" >&2; exit 2; }
if [ -z "$BENCH" ]; then
  cmake -S "$ROOT/inframind-agent" -B "$ROOT/target/agent-release" -DCMAKE_BUILD_TYPE=Release -DIM_AGENT_TESTS=OFF >&2
  cmake --build "$ROOT/target/agent-release" -j "$(nproc)" --target im-tree-sample-bench >&2
  BENCH="$ROOT/target/agent-release/im-tree-sample-bench"
fi

# The tree: a root shell with BUSY busy children and PROCS-1-BUSY sleeping ones (killed by
# the trap, children first, by parent pid: never a process group).
WORK="$(mktemp -d)"
mkfifo "$WORK/never"
bash -c 'n=$1; busy=$2; fifo=$3; period=$(printf "%d.%03d" $(($4 / 1000)) $(($4 % 1000)))
  for ((k = 0; k < busy; k++)); do
    bash -c "exec 9<>\"\$1\"; n=0
      while :; do
        i=0; while ((i < 10)); do ((i++)); done
        read -t \"\$2\" -u 9; ((++n % 50)) || /bin/true
      done" _ "$fifo" "$period" &
  done
  for ((k = 1 + busy; k < n; k++)); do sleep 600 & done
  wait' _ "$PROCS" "$BUSY" "$WORK/never" "$PERIOD" &
ROOTPID=$!
trap 'pkill -TERM -P "$ROOTPID" 2>/dev/null || true; kill "$ROOTPID" 2>/dev/null || true; wait "$ROOTPID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  [ "$(pgrep -c -P "$ROOTPID" || true)" -ge $((PROCS - 1)) ] && break
  sleep 0.1
done
"$BENCH" "$ROOTPID" "$ITER" "$INTERVAL" >"$WORK/out"
python3 - "$WORK/out" "$PROCS" "$BUSY" "$PERIOD" "$INTERVAL" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
want, busy, period, interval = (int(a) for a in sys.argv[2:6])
tree = json.loads(lines[0]).get("tree") or {}
got = tree.get("processes")
# A busy child may have its /bin/true running at the last sample.
extra = f", + up to {busy} short-lived /bin/true of the {busy} busy children waking every {period} ms" if busy else ""
print(f"tree of {got} processes (wanted {want}{extra}); {interval} ms between samples")
print(lines[-1])
if got is None or not want <= got <= want + busy:
    sys.exit(f"the collector saw {got} processes, expected {want}" + (f"..{want + busy}" if busy else ""))
PY
