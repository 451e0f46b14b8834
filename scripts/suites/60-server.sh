#!/usr/bin/env bash
# Server (server-example): the storage suite, two replicas and the readiness check on a real
# PostgreSQL (a throwaway cluster on a free loopback port, run as the postgres user), the
# fault drills that need it (SIGKILL mid-burst, the database going away), a real
# Alertmanager delivering an `amtool alert add` alert to /alerts, `promtool check metrics` on
# /metrics, and a smoke run of the binary (--demo, /optimize, graceful SIGTERM) on SQLite and
# PostgreSQL. The route and SQLite tests run in 10-rust.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

im_apt_install postgresql prometheus-alertmanager prometheus curl || true
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
missing=""
[ -x "${pgbin:-}/initdb" ] || missing="$missing postgresql"
command -v amtool >/dev/null 2>&1 || missing="$missing amtool"
command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$missing prometheus-alertmanager"
command -v promtool >/dev/null 2>&1 || missing="$missing promtool"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
  im_skip "60-server" "missing:$missing (Debian packages postgresql prometheus-alertmanager prometheus curl)"
  exit $?
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/im-server-suite.XXXXXX)"
pids=()
as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -f "$work/pg/PG_VERSION" ]; then as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

im_log "PostgreSQL: throwaway cluster ($pgbin)"
mkdir -p "$work/pg" "$work/sock"
[ "$(id -u)" = "0" ] && chown -R postgres: "$work"
chmod 755 "$work"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres --no-sync >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; exit 1; }
pgport="$(free_port)"
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pgport -k $work/sock -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$work/pg.log" >&2; exit 1; }
export INFRAMIND_TEST_PG_URL="postgres://postgres@127.0.0.1:$pgport/postgres"
im_log "PostgreSQL on 127.0.0.1:$pgport; amtool: $(amtool --version 2>&1 | head -1)"

cargo test -p server-example --locked \
  --test db_postgres --test replicas_postgres --test alerts_alertmanager --test metrics_promtool \
  --test drill_crash --test drill_database \
  -- --ignored

im_log "smoke: inframind-server --demo on SQLite and PostgreSQL, /optimize, graceful SIGTERM"
cargo build -p server-example --locked --bin inframind-server
bin="$IM_ROOT/target/debug/inframind-server"
as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -q -c "CREATE DATABASE im_smoke" >/dev/null
for db in "sqlite://$work/smoke.db" "postgres://postgres@127.0.0.1:$pgport/im_smoke"; do
  port="$(free_port)"
  INFRAMIND_TOKEN=smoke-token "$bin" --demo --db "$db" --model-dir "$work/models-$port" \
    --listen "127.0.0.1:$port" >"$work/server-$port.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server-$port.log" >&2; exit 1; }
    sleep 0.2
  done
  out="$(curl -fsS -H 'X-IM-Token: smoke-token' -X POST "http://127.0.0.1:$port/optimize" \
    -d '{"pipeline":"demo/example-app","context":{"tool":"cmake","max_rss_gb":4,"num_steps":5,"avg_step_duration_s":60},"seed":7}')"
  echo "$out" | grep -q '"cold_start":false' || { echo "unexpected /optimize answer: $out" >&2; exit 1; }
  echo "$out" | grep -q '"CMAKE_BUILD_PARALLEL_LEVEL"' || { echo "no env in: $out" >&2; exit 1; }
  curl -fs "http://127.0.0.1:$port/metrics" | promtool check metrics
  kill -TERM "$pid"
  wait "$pid" || { echo "server did not stop cleanly on SIGTERM (db $db)" >&2; cat "$work/server-$port.log" >&2; exit 1; }
  im_log "smoke ok on ${db%%:*}"
done
