#!/usr/bin/env bash
# Footprint of inframind-agent beside Debian's prometheus-node-exporter, measured in the same run
# and scraped the same way: both on free loopback ports, both scraped once a second (by a real
# Prometheus server, or by a bounded curl loop with --scraper curl) for N seconds, after a short
# warm-up. Reports each one's CPU as % of one core (utime+stime deltas from /proc/PID/stat over
# the window; also from /proc/PID/task/*/schedstat, finer) and memory (VmRSS at the end, VmHWM =
# peak, RssAnon = own memory, Pss = shared pages split among their users) side by side;
# --json OUT writes the same.
#
#   benches/agent/footprint.sh [--duration 60] [--interval 1] [--scraper prometheus|curl]
#                              [--agent PATH] [--json OUT]
#
# Without --agent it builds the agent in release (library too):
#   cmake -S inframind-agent -B target/agent-release -DCMAKE_BUILD_TYPE=Release
# Numbers are only meaningful on a quiet machine; nothing here asserts a speed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

DURATION=60
INTERVAL=1
WARMUP=5
SCRAPER=prometheus
AGENT=""
JSON_OUT=""
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="${2:?--duration needs seconds}"; shift 2 ;;
    --interval) INTERVAL="${2:?--interval needs seconds}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs seconds}"; shift 2 ;;
    --scraper) SCRAPER="${2:?--scraper needs prometheus or curl}"; shift 2 ;;
    --agent) AGENT="${2:?--agent needs a path}"; shift 2 ;;
    --json) JSON_OUT="${2:?--json needs a path}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "footprint.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 2 ] || { echo "--duration must be a whole number of seconds >= 2" >&2; exit 2; }
[[ "$INTERVAL" =~ ^[0-9]+$ ]] && [ "$INTERVAL" -ge 1 ] || { echo "--interval must be a whole number of seconds >= 1" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "--warmup must be a whole number of seconds" >&2; exit 2; }
case "$SCRAPER" in prometheus|curl) ;; *) echo "--scraper must be prometheus or curl" >&2; exit 2 ;; esac

NODE_EXPORTER="$(command -v prometheus-node-exporter || command -v node_exporter || true)"
if [ -z "$NODE_EXPORTER" ]; then
  im_apt_install prometheus-node-exporter || true
  NODE_EXPORTER="$(command -v prometheus-node-exporter || true)"
fi
[ -n "$NODE_EXPORTER" ] || { echo "prometheus-node-exporter not found (Debian package prometheus-node-exporter)" >&2; exit 1; }
if [ "$SCRAPER" = prometheus ] && ! command -v prometheus >/dev/null; then
  im_apt_install prometheus || true
  command -v prometheus >/dev/null || { echo "prometheus not found: install Debian prometheus or use --scraper curl" >&2; exit 1; }
fi

if [ -z "$AGENT" ]; then
  im_log "building the agent (release)"
  cmake -S "$ROOT/inframind-agent" -B "$ROOT/target/agent-release" -DCMAKE_BUILD_TYPE=Release \
    -DIM_AGENT_TESTS=OFF >&2
  cmake --build "$ROOT/target/agent-release" -j "$(nproc)" >&2
  AGENT="$ROOT/target/agent-release/inframind-agent"
fi
[ -x "$AGENT" ] || { echo "agent binary $AGENT not found or not executable" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/im-footprint.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() {
  for _ in $(seq 150); do curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no answer from $1 within 15 s" >&2; return 1
}

agent_port=$(free_port)
"$AGENT" --listen "127.0.0.1:$agent_port" --interval "$INTERVAL" >"$TMP/agent.out" 2>"$TMP/agent.err" &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
node_port=$(free_port)
"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$node_port" >"$TMP/node.log" 2>&1 &
NODE_PID=$!; PIDS+=("$NODE_PID")
wait_http "http://127.0.0.1:$agent_port/metrics"
wait_http "http://127.0.0.1:$node_port/metrics"

if [ "$SCRAPER" = prometheus ]; then
  prom_port=$(free_port)
  cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: ${INTERVAL}s
  scrape_timeout: ${INTERVAL}s
scrape_configs:
  - job_name: inframind-agent
    static_configs: [{targets: ["127.0.0.1:$agent_port"]}]
  - job_name: node-exporter
    static_configs: [{targets: ["127.0.0.1:$node_port"]}]
YML
  prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$TMP/prometheus.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$prom_port/-/ready"
else
  # Bounded curl loop: one scrape of each target per interval until killed by the trap.
  (
    while :; do
      curl -s -o /dev/null --max-time "$INTERVAL" "http://127.0.0.1:$agent_port/metrics" && echo a >>"$TMP/scrapes"
      curl -s -o /dev/null --max-time "$INTERVAL" "http://127.0.0.1:$node_port/metrics" && echo n >>"$TMP/scrapes"
      sleep "$INTERVAL"
    done
  ) &
  PIDS+=($!)
fi

im_log "warm-up ${WARMUP} s, then measuring for ${DURATION} s (${SCRAPER} scraping every ${INTERVAL} s)"
sleep "$WARMUP"
# ticks PID: utime+stime in clock ticks (fields 14 and 15 of /proc/PID/stat; the command name,
# field 2, may contain spaces, so split after the last ')').
ticks() { python3 -c 'import sys; s=open(f"/proc/{sys.argv[1]}/stat").read(); f=s[s.rindex(")")+2:].split(); print(int(f[11])+int(f[12]))' "$1"; }
# runns PID: nanoseconds on CPU summed over its live threads (/proc/PID/task/*/schedstat, field 1):
# a finer second opinion than the clock ticks (it misses threads that exit within the window).
runns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }
t0=$(date +%s.%N); a0=$(ticks "$AGENT_PID"); n0=$(ticks "$NODE_PID"); as0=$(runns "$AGENT_PID"); ns0=$(runns "$NODE_PID")
: >"$TMP/scrapes"
sleep "$DURATION"
t1=$(date +%s.%N); a1=$(ticks "$AGENT_PID"); n1=$(ticks "$NODE_PID"); as1=$(runns "$AGENT_PID"); ns1=$(runns "$NODE_PID")
cat "/proc/$AGENT_PID/status" "/proc/$AGENT_PID/smaps_rollup" >"$TMP/agent.status"
cat "/proc/$NODE_PID/status" "/proc/$NODE_PID/smaps_rollup" >"$TMP/node.status"

scrapes_agent=""; scrapes_node=""
if [ "$SCRAPER" = prometheus ]; then
  q() { curl -sS -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'; }
  scrapes_agent=$(q "sum_over_time(up{job=\"inframind-agent\"}[${DURATION}s])")
  scrapes_node=$(q "sum_over_time(up{job=\"node-exporter\"}[${DURATION}s])")
else
  scrapes_agent=$(grep -c a "$TMP/scrapes" || true); scrapes_node=$(grep -c n "$TMP/scrapes" || true)
fi

python3 - "$JSON_OUT" "$t0" "$t1" "$(getconf CLK_TCK)" "$SCRAPER" "$INTERVAL" \
  "$a0" "$a1" "$as0" "$as1" "$TMP/agent.status" "$scrapes_agent" "$("$AGENT" --version)" \
  "$n0" "$n1" "$ns0" "$ns1" "$TMP/node.status" "$scrapes_node" "$("$NODE_EXPORTER" --version 2>&1 | head -1)" <<'PY'
import json, os, platform, sys
(out, t0, t1, hz, scraper, interval,
 a0, a1, as0, as1, ast, asc, aver, n0, n1, ns0, ns1, nst, nsc, nver) = sys.argv[1:]
wall = float(t1) - float(t0); hz = int(hz)
def status(path):
    kv = {}
    for line in open(path):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "RssAnon", "Pss"):
            kv[k] = int(v.split()[0]) * 1024
    return kv
def proc(t_a, t_b, r_a, r_b, st, scrapes, version):
    s = status(st); cpu = (int(t_b) - int(t_a)) / hz
    run = (int(r_b) - int(r_a)) / 1e9
    return {"version": version, "cpu_seconds": cpu, "cpu_percent_of_one_core": 100 * cpu / wall,
            "schedstat_cpu_seconds": run, "schedstat_cpu_percent_of_one_core": 100 * run / wall,
            "rss_bytes": s.get("VmRSS"), "peak_rss_bytes": s.get("VmHWM"),
            "anon_rss_bytes": s.get("RssAnon"), "pss_bytes": s.get("Pss"), "scrapes_ok": int(scrapes)}
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
res = {"window_seconds": round(wall, 3), "interval_seconds": int(interval), "scraper": scraper,
       "clock_ticks_per_second": hz, "machine": {"cpus": os.cpu_count(), "cpu_model": model,
       "kernel": platform.release()},
       "processes": {"inframind-agent": proc(a0, a1, as0, as1, ast, asc, aver),
                     "node_exporter": proc(n0, n1, ns0, ns1, nst, nsc, nver)}}
print(f"\nFootprint over {wall:.1f} s, scraped every {interval} s by {scraper} "
      f"({os.cpu_count()} CPUs, {model}; CPU resolution 1/{hz} s):\n")
print(f"{'process':<18}{'CPU % of one core':>18}{'(schedstat)':>12}{'CPU s':>9}{'RSS MiB':>10}{'peak RSS MiB':>14}"
      f"{'anon RSS MiB':>14}{'PSS MiB':>10}{'scrapes ok':>12}")
for name, p in res["processes"].items():
    mib = lambda b: f"{b / 2**20:.2f}" if b is not None else "?"
    print(f"{name:<18}{p['cpu_percent_of_one_core']:>18.3f}{p['schedstat_cpu_percent_of_one_core']:>12.3f}{p['cpu_seconds']:>9.2f}"
          f"{mib(p['rss_bytes']):>10}{mib(p['peak_rss_bytes']):>14}{mib(p['anon_rss_bytes']):>14}"
          f"{mib(p['pss_bytes']):>10}{p['scrapes_ok']:>12}")
print("(RSS counts shared library pages in full; anon RSS is the process's own memory; PSS shares"
      " library pages among the processes mapping them)")
a = res["processes"]["inframind-agent"]
print(f"\nissue 4 target for the agent: <= 0.2% of one core, <= 8 MiB RSS "
      f"(measured: {a['cpu_percent_of_one_core']:.3f}%, {(a['rss_bytes'] or 0) / 2**20:.2f} MiB)")
if out:
    with open(out, "w") as f:
        json.dump(res, f, indent=2); f.write("\n")
    print(f"wrote {out}")
PY
