#!/usr/bin/env bash
# End to end: the agent on a free loopback port, a real Prometheus server (Debian `prometheus`)
# scraping it every second, and checks through Prometheus' HTTP API (/api/v1/query) that the
# series arrived with plausible values and that up == 1. Everything started here is killed by
# the trap. Bounded: gives Prometheus at most E2E_TIMEOUT seconds (default 60) to show the data.
# Usage: e2e_prometheus.sh PATH/TO/inframind-agent
set -uo pipefail
AGENT="${1:?usage: $0 PATH/TO/inframind-agent}"
source "$(dirname "$0")/lib.sh"
im_need prometheus prometheus
im_need curl curl
im_test_init
TIMEOUT="${E2E_TIMEOUT:-60}"

# A watched "build" too, so the build_* series travel end to end as well.
bash -c 'for i in 1 2; do sleep 120 & done; wait' &
BUILD=$!
IM_PIDS+=("$BUILD")

agent_port=$(free_port)
"$AGENT" --listen "127.0.0.1:$agent_port" --interval 1 --pid "$BUILD" \
  >"$IM_TMP/agent.out" 2>"$IM_TMP/agent.err" &
IM_PIDS+=($!)
if ! wait_http "http://127.0.0.1:$agent_port/metrics" 15; then
  fail "agent did not come up: $(head -c 500 "$IM_TMP/agent.err")"; im_finish; exit 1
fi
ok "agent serving on 127.0.0.1:$agent_port"

prom_port=$(free_port)
cat >"$IM_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: inframind-agent
    static_configs:
      - targets: ["127.0.0.1:$agent_port"]
YML
prometheus --config.file="$IM_TMP/prometheus.yml" \
  --storage.tsdb.path="$IM_TMP/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" \
  >"$IM_TMP/prometheus.log" 2>&1 &
IM_PIDS+=($!)
prom="http://127.0.0.1:$prom_port"
if ! wait_http "$prom/-/ready" 30; then
  fail "prometheus did not become ready: $(tail -c 1000 "$IM_TMP/prometheus.log")"; im_finish; exit 1
fi
ok "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') ready on 127.0.0.1:$prom_port"

# query EXPR: prints the first result's value (empty if none yet).
query() {
  curl -sS --max-time 5 -G "$prom/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["data"]["result"] if d.get("status")=="success" else []; print(r[0]["value"][1] if r else "")'
}

# Wait (bounded) until rate() has two points: im_cpu_seconds_total needs two scrapes.
deadline=$(( $(date +%s) + TIMEOUT ))
ready=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  v=$(query 'count_over_time(im_mem_used_bytes[1m])' 2>/dev/null || true)
  if [ -n "$v" ] && [ "${v%.*}" -ge 3 ]; then ready=1; break; fi
  sleep 1
done
if [ -z "$ready" ]; then
  fail "no im_mem_used_bytes samples in Prometheus after $TIMEOUT s; targets: $(curl -sS "$prom/api/v1/targets" | head -c 800)"
  im_finish; exit 1
fi
ok "Prometheus stored at least 3 scrapes of im_mem_used_bytes"

memtotal=$(awk '/^MemTotal:/{printf "%.0f\n", $2*1024}' /proc/meminfo)
ncpu=$(nproc --all)
# check_value DESCRIPTION EXPR PYTHON-CONDITION-ON-v
check_value() {
  local what="$1" expr="$2" cond="$3" v
  v=$(query "$expr")
  if [ -z "$v" ]; then fail "$what: no result for $expr"; return; fi
  if python3 -c "import sys; v=float(sys.argv[1]); memtotal=float(sys.argv[2]); ncpu=int(sys.argv[3]); sys.exit(0 if ($cond) else 1)" "$v" "$memtotal" "$ncpu"; then
    ok "$what: $expr = $v"
  else
    fail "$what: $expr = $v violates $cond"
  fi
}
job='job="inframind-agent"'
check_value "target is up" "up{$job}" "v == 1"
check_value "cpu usage ratio in 0..1" "im_cpu_usage_ratio{$job}" "0 <= v <= 1"
check_value "max cpu usage ratio over the run in 0..1" "max_over_time(im_cpu_usage_ratio{$job}[1m])" "0 <= v <= 1"
check_value "busy cpu seconds since boot positive" "im_cpu_seconds_total{$job}" "v > 0"
check_value "cpu seconds rate within 0..cores" "rate(im_cpu_seconds_total{$job}[1m])" "0 <= v <= ncpu * 1.05"
check_value "memory used between 1 MiB and MemTotal" "im_mem_used_bytes{$job}" "2**20 <= v <= memtotal"
check_value "memory total matches /proc/meminfo" "im_mem_total_bytes{$job}" "abs(v - memtotal) <= 1024"
check_value "io read bytes counter non-negative" "im_io_read_bytes_total{$job}" "v >= 0"
check_value "io write bytes counter non-negative" "im_io_write_bytes_total{$job}" "v >= 0"
check_value "io counters never reset during the run" "resets(im_io_read_bytes_total{$job}[1m]) + resets(im_io_write_bytes_total{$job}[1m]) + resets(im_cpu_seconds_total{$job}[1m])" "v == 0"
check_value "build info is 1" "im_build_info{$job}" "v == 1"
check_value "build tree processes (root + 2 sleeps)" "im_build_processes{$job,pid=\"$BUILD\"}" "v >= 3"
check_value "build tree RSS between 100 KiB and MemTotal" "im_build_rss_bytes{$job,pid=\"$BUILD\"}" "100*1024 <= v <= memtotal"
check_value "build tree peak RSS >= current RSS" "im_build_peak_rss_bytes{$job,pid=\"$BUILD\"} - im_build_rss_bytes{$job,pid=\"$BUILD\"}" "v >= 0"
check_value "scrapes took under 1 s" "max_over_time(scrape_duration_seconds{$job}[1m])" "0 < v < 1"
check_value "no samples dropped as invalid" "scrape_samples_scraped{$job} - scrape_samples_post_metric_relabeling{$job}" "v == 0"

im_finish
