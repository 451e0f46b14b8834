#!/usr/bin/env bash
# Load benchmark of inframind-server (release build) with wrk on loopback, beside the FastAPI
# example (bindings/python/examples/fastapi_service.py under uvicorn) answering the same
# /optimize request in the same run.
#
#   benches/server/load.sh [--duration S] [--json OUT] [--pg-url postgres://...] [--quick]
#
# Cases (each bounded by --duration, default 10 s):
#   /optimize    at 4 connections (latency: p50/p99 at the rate 4 clients reach) and at 32
#                (throughput), on SQLite and PostgreSQL, and on the FastAPI example; and paced:
#                8 connections that each wait 3 ms between answer and next request (~2,300
#                req/s: the p99 at a given rate, not at the most the machine can do);
#   /builds/step at 32 connections on SQLite and PostgreSQL, then the steps stored for the run
#                are counted: every acknowledged (201) step must be there (nothing lost).
# PostgreSQL: --pg-url, else a throwaway cluster from /usr/lib/postgresql/*/bin on a free port
# (skipped loudly when PostgreSQL is not installed). The FastAPI case needs the project venv
# (.im-venv) with the inframind wheel, fastapi and uvicorn; without them it is skipped loudly.
# Prints a table; --json OUT writes the results. Do not read numbers off a loaded machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration=10
json_out=""
pg_url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --pg-url) pg_url="$2"; shift 2 ;;
    --quick) duration=2; shift ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not found: apt-get install curl" >&2; exit 2; }

loud_skip() {
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! SKIPPED benchmark case %s: %s\n' "$1" "$2" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
  echo "{\"case\":\"$1\",\"skipped\":\"$2\"}" >>"$results"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/im-load.XXXXXX)"
chmod 755 "$work"
pids=()
pgbin=""
results="$work/results.jsonl"
: >"$results"
token="bench-token"
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ -n "$pgbin" ] && [ -f "$work/pg/PG_VERSION" ]; then
    as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() { # url pid log
  for _ in $(seq 1 600); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited:" >&2; cat "$3" >&2; return 1; }
    sleep 0.2
  done
  echo "server at $1 not ready in 120 s" >&2; return 1
}

cat >"$work/optimize.json" <<'EOF'
{"pipeline":"demo/example-app","context":{"tool":"cmake","max_rss_gb":4,"num_steps":5,"avg_step_duration_s":60},"seed":7}
EOF

# run_wrk CASE URL BODY_FILE OK_STATUS CONNECTIONS [DELAY_MS] -> appends a result, echoes the ok count
run_wrk() {
  local name="$1" url="$2" body="$3" ok="$4" conns="$5" delay_ms="${6:-0}" out
  out="$(BODY_FILE="$body" IM_TOKEN="$token" OK_STATUS="$ok" DELAY_MS="$delay_ms" \
    wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$here/wrk.lua" "$url" 2>&1)" || {
    echo "$out" >&2; return 1; }
  local line
  line="$(echo "$out" | sed -n 's/^WRKJSON //p')"
  [ -n "$line" ] || { echo "$out" >&2; return 1; }
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["case"]=sys.argv[2]; d["connections"]=int(sys.argv[3]); print(json.dumps(d))' "$line" "$name" "$conns" >>"$results"
  python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "$line"
}

bench_server() { # LABEL DB_URL
  local label="$1" db="$2" port pid log
  port="$(free_port)"
  log="$work/server-$label.log"
  INFRAMIND_TOKEN="$token" RUST_LOG=warn "$root/target/release/inframind-server" --demo --db "$db" \
    --model-dir "$work/models-$label" --listen "127.0.0.1:$port" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_ready "http://127.0.0.1:$port/readyz" "$pid" "$log"
  local base="http://127.0.0.1:$port"
  curl -fsS -H "X-IM-Token: $token" -H "Content-Type: application/json" -X POST "$base/optimize" -d @"$work/optimize.json" >/dev/null
  for c in 4 32; do
    run_wrk "axum-$label /optimize c$c" "$base/optimize" "$work/optimize.json" 200 "$c" >/dev/null
  done
  # wrk's p99 at a paced rate includes its own threads waking from idle on the shared cores, so
  # the server's own histogram (/metrics, time inside the server) is read around the run too.
  curl -fsS "$base/metrics" >"$work/metrics-before.txt"
  run_wrk "axum-$label /optimize c8 paced" "$base/optimize" "$work/optimize.json" 200 8 3 >/dev/null
  curl -fsS "$base/metrics" >"$work/metrics-after.txt"
  python3 "$here/server_share.py" "axum-$label /optimize c8 paced, in server" /optimize \
    "$work/metrics-before.txt" "$work/metrics-after.txt" >>"$results"
  local run_id="bench-$label-$$"
  curl -fsS -H "X-IM-Token: $token" -H "Content-Type: application/json" -X POST "$base/builds/start" \
    -d "{\"pipeline\":\"bench/steps\",\"tool\":\"make\",\"run_id\":\"$run_id\"}" >/dev/null
  printf '{"run_id":"%s","name":"compile","duration_s":1.5,"max_rss_bytes":1048576,"cpu_seconds":1.2,"cache_hits":3,"cache_misses":1}\n' \
    "$run_id" >"$work/step-$label.json"
  local acked stored
  acked="$(run_wrk "axum-$label /builds/step c32" "$base/builds/step" "$work/step-$label.json" 201 32)"
  stored="$(curl -fsS -H "X-IM-Token: $token" "$base/builds/$run_id" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')"
  # Requests in flight when wrk stopped may be stored without having been counted: at most one
  # per connection. An acknowledged step that is missing is a loss.
  local lost=$(( acked > stored ? acked - stored : 0 ))
  echo "{\"case\":\"axum-$label /builds/step rows\",\"acknowledged\":$acked,\"stored\":$stored,\"lost\":$lost}" >>"$results"
  if [ "$lost" -ne 0 ]; then echo "LOST $lost acknowledged steps on $label" >&2; fi
  kill -TERM "$pid"; wait "$pid" || { echo "server on $label did not stop cleanly" >&2; cat "$log" >&2; }
}

echo "building the release server..." >&2
(cd "$root" && cargo build --release -p server-example --bin inframind-server --locked >&2)

bench_server sqlite "sqlite://$work/bench.db"

if [ -z "$pg_url" ]; then
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -x "${pgbin:-}/initdb" ]; then
    mkdir -p "$work/pg" "$work/sock"
    [ "$(id -u)" = "0" ] && chown -R postgres: "$work/pg" "$work/sock"
    as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >"$work/initdb.log" 2>&1
    pgport="$(free_port)"
    as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/sock/pg.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $pgport -k $work/sock" start >/dev/null
    pg_url="postgres://postgres@127.0.0.1:$pgport/postgres"
  fi
fi
if [ -n "$pg_url" ]; then
  bench_server postgres "$pg_url"
else
  loud_skip "axum-postgres" "PostgreSQL not installed (apt-get install postgresql) and no --pg-url"
fi

py="$root/.im-venv/bin/python"
app_dir="$root/bindings/python/examples"
if [ ! -f "$app_dir/fastapi_service.py" ]; then
  loud_skip "fastapi /optimize" "bindings/python/examples/fastapi_service.py does not exist yet"
elif [ ! -x "$py" ] || ! "$py" -c 'import inframind, fastapi, uvicorn' 2>/dev/null; then
  loud_skip "fastapi /optimize" "$py cannot import inframind, fastapi and uvicorn (build the wheel into .im-venv: see bindings/python)"
else
  port="$(free_port)"
  (cd "$app_dir" && INFRAMIND_TOKEN="$token" INFRAMIND_DEMO=1 INFRAMIND_STORE_DIR="$work/fastapi-store" \
    exec "$py" -m uvicorn fastapi_service:app --host 127.0.0.1 --port "$port" --log-level warning \
    >"$work/fastapi.log" 2>&1) &
  fpid=$!
  pids+=("$fpid")
  wait_ready "http://127.0.0.1:$port/healthz" "$fpid" "$work/fastapi.log"
  curl -fsS -H "X-IM-Token: $token" -H "Content-Type: application/json" -X POST "http://127.0.0.1:$port/optimize" -d @"$work/optimize.json" >/dev/null
  for c in 4 32; do
    run_wrk "fastapi /optimize c$c" "http://127.0.0.1:$port/optimize" "$work/optimize.json" 200 "$c" >/dev/null
  done
  kill "$fpid" 2>/dev/null || true
fi

all="$(python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(json.dumps({"duration_s_per_case": float(sys.argv[1]), "results": rows}, indent=1))' "$duration" <"$results")"
echo "$all" | python3 "$here/report.py"
if [ -n "$json_out" ]; then echo "$all" >"$json_out"; echo "wrote $json_out" >&2; fi
if grep -q '"lost": *[1-9]' "$results"; then exit 1; fi
