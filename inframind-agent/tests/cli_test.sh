#!/usr/bin/env bash
# Command line of inframind-agent: --help/--version exit 0; every bad flag exits 2 with the usage
# on stderr; runtime errors (unwritable log, missing pid, busy port) exit 1 with a JSON log line.
# Usage: cli_test.sh PATH/TO/inframind-agent
set -uo pipefail
AGENT="${1:?usage: $0 PATH/TO/inframind-agent}"
source "$(dirname "$0")/lib.sh"
im_test_init

out="$IM_TMP/out"; err="$IM_TMP/err"

"$AGENT" --help >"$out" 2>"$err"; rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help prints the usage on stdout" grep -q '^Usage: inframind-agent' "$out"
for flag in --listen --interval --log-json --pid --cache --help; do
  check "--help documents $flag" grep -q -- "$flag" "$out"
done
check "--help writes nothing on stderr" [ ! -s "$err" ]

"$AGENT" --version >"$out" 2>"$err"; rc=$?
check "--version exits 0" [ "$rc" -eq 0 ]
check "--version names the library version" grep -q 'libinframind [0-9]' "$out"

bad_cases=(
  "--bogus"
  "-x"
  "positional"
  "--interval"
  "--interval 0"
  "--interval -1"
  "--interval abc"
  "--interval nan"
  "--interval inf"
  "--interval 1e9"
  "--interval=1s"
  "--listen"
  "--listen 127.0.0.1"
  "--listen 127.0.0.1:"
  "--listen 127.0.0.1:70000"
  "--listen 127.0.0.1:-1"
  "--listen ::1:9102"
  "--listen [::1]9102"
  "--listen [nothost]:9102"
  "--listen bad_host!:9102"
  "--pid"
  "--pid 0"
  "--pid -5"
  "--pid abc"
  "--pid 99999999999"
  "--log-json="
  "--help=yes"
  "--cache=1"
)
for c in "${bad_cases[@]}"; do
  # shellcheck disable=SC2086 # word splitting is the point: each case is a flag list
  timeout 10 "$AGENT" $c >"$out" 2>"$err"; rc=$?
  if [ "$rc" -eq 2 ] && grep -q '^inframind-agent: error: ' "$err" && grep -q '^Usage: ' "$err" && [ ! -s "$out" ]; then
    ok "bad flags '$c' -> exit 2 with usage on stderr"
  else
    fail "bad flags '$c': exit $rc, stderr: $(head -c 300 "$err")"
  fi
done

# Runtime errors: exit 1 and a JSON error line naming the problem.
timeout 10 "$AGENT" --listen 127.0.0.1:0 --log-json /nonexistent-dir/x/log.jsonl >"$out" 2>"$err"; rc=$?
check "unwritable --log-json path -> exit 1" [ "$rc" -eq 1 ]
check "... reported as a JSON log line naming the path" \
  python3 -c 'import json,sys; l=json.loads(open(sys.argv[1]).readline()); assert l["level"]=="error" and "/nonexistent-dir" in l["path"], l' "$err"

missing_pid=$(( $(cat /proc/sys/kernel/pid_max) + 1 ))
[ "$missing_pid" -gt 2147483647 ] && missing_pid=2147483647
timeout 10 "$AGENT" --listen 127.0.0.1:0 --pid "$missing_pid" >"$out" 2>"$err"; rc=$?
check "--pid of a process that does not exist -> exit 1" [ "$rc" -eq 1 ]
check "... reported as a JSON error line with the library's status" \
  python3 -c 'import json,sys; l=json.loads(open(sys.argv[1]).readline()); assert l["level"]=="error" and l["status"].startswith("IM_STATUS_") and l["pid"]==int(sys.argv[2]), l' "$err" "$missing_pid"

# A busy port: hold one with python, then ask the agent for it.
port=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
IM_PIDS+=($!)
sleep 0.5
timeout 10 "$AGENT" --listen "127.0.0.1:$port" >"$out" 2>"$err"; rc=$?
check "a port already in use -> exit 1" [ "$rc" -eq 1 ]
check "... reported as a JSON error line" json_lines_ok "$err" level

im_finish
