#!/usr/bin/env bash
# The running agent: GET /metrics (status, Content-Type, content, `promtool check metrics` with no
# findings), 404 elsewhere, JSON sample log lines (file and stdout), JSON stderr logs, watching a
# build's process tree until it exits, and a clean exit 0 on SIGTERM and SIGINT; the HTTP layer's
# limits (HEAD, a stalled client dropped after the read timeout while others are served, 50
# silent clients and a flood over the connection cap not delaying a scrape, 413/431 for oversized
# requests, 400 for a malformed one) and serving on [::1] with port 0.
# Usage: http_test.sh PATH/TO/inframind-agent
set -uo pipefail
AGENT="${1:?usage: $0 PATH/TO/inframind-agent}"
source "$(dirname "$0")/lib.sh"
im_need promtool prometheus
im_need curl curl
im_test_init

# start_agent NAME ARGS...: starts the agent on a free port; sets PORT and APID.
start_agent() {
  local name="$1"; shift
  PORT=$(free_port)
  "$AGENT" --listen "127.0.0.1:$PORT" "$@" >"$IM_TMP/$name.out" 2>"$IM_TMP/$name.err" &
  APID=$!
  IM_PIDS+=("$APID")
  if ! wait_http "http://127.0.0.1:$PORT/metrics" 15; then
    fail "$name: agent did not answer on 127.0.0.1:$PORT within 15 s; stderr: $(head -c 500 "$IM_TMP/$name.err")"
    return 1
  fi
}

# --- 1. /metrics, 404, promtool, JSON log to a file ---------------------------------------------
log="$IM_TMP/samples.jsonl"
if start_agent main --interval 0.2 --log-json "$log"; then
  url="http://127.0.0.1:$PORT"
  curl -sS -D "$IM_TMP/headers" -o "$IM_TMP/metrics" "$url/metrics"
  check "GET /metrics -> 200" grep -q '^HTTP/1.1 200' "$IM_TMP/headers"
  check "Content-Type is text/plain; version=0.0.4; charset=utf-8" \
    grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$IM_TMP/headers"
  check "one request per connection (Connection: close; no keep-alive polling threads)" \
    grep -qi '^Connection: close' "$IM_TMP/headers"
  for m in im_cpu_usage_ratio im_cpu_seconds_total im_mem_used_bytes im_mem_total_bytes \
           im_io_read_bytes_total im_io_write_bytes_total; do
    check "/metrics has HELP, TYPE and a sample of $m" \
      bash -c 'grep -q "^# HELP $1 " "$2" && grep -q "^# TYPE $1 " "$2" && grep -Eq "^$1(\{[^}]*\})? [0-9]" "$2"' _ "$m" "$IM_TMP/metrics"
  done
  check "/metrics has im_build_info{version=...} 1" grep -Eq '^im_build_info\{version="[^"]+"\} 1' "$IM_TMP/metrics"
  check "without --pid there is no im_build_processes series" bash -c '! grep -q "^im_build_processes" "$1"' _ "$IM_TMP/metrics"
  check "im_cpu_usage_ratio is within 0..1" \
    awk '$1=="im_cpu_usage_ratio"{found=1; if ($2<0 || $2>1) bad=1} END{exit !(found && !bad)}' "$IM_TMP/metrics"

  promtool check metrics <"$IM_TMP/metrics" >"$IM_TMP/promtool" 2>&1; rc=$?
  check "promtool check metrics: exit 0" [ "$rc" -eq 0 ]
  check "promtool check metrics: no findings" [ ! -s "$IM_TMP/promtool" ]
  [ -s "$IM_TMP/promtool" ] && cat "$IM_TMP/promtool" >&2

  for path in / /metric /metrics/ /metrics/x /favicon.ico; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url$path")
    check "GET $path -> 404 (got $code)" [ "$code" = 404 ]
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
  check "POST /metrics is not served (got $code)" [ "$code" -ge 400 ]
  code=$(curl -s -o /dev/null -w '%{http_code}' --compressed "$url/metrics")
  check "gzip-accepting scrape (Prometheus sends Accept-Encoding) -> 200, answered uncompressed" [ "$code" = 200 ]

  # Scrapes read the sampler's latest text: counters never go back between scrapes.
  a=$(awk '$1=="im_cpu_seconds_total"{print $2}' "$IM_TMP/metrics")
  sleep 1.2
  b=$(curl -sS "$url/metrics" | awk '$1=="im_cpu_seconds_total"{print $2}')
  check "im_cpu_seconds_total does not go back between scrapes ($a -> $b)" \
    python3 -c 'import sys; a,b=map(float,sys.argv[1:]); assert b>=a' "$a" "$b"

  n=$(wc -l <"$log")
  check "--interval 0.2 wrote several JSON sample lines in ~1.5 s (got $n)" [ "$n" -ge 4 ]
  check "every sample log line is a JSON object with a system part" json_lines_ok "$log" system

  kill -TERM "$APID"; wait_exit "$APID" 10; rc=$EXIT_RC
  check "SIGTERM -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "every stderr line is a JSON log object" json_lines_ok "$IM_TMP/main.err" level
  check "stderr logged 'listening' with the port" \
    python3 -c 'import json,sys; ls=[json.loads(l) for l in open(sys.argv[1])]; assert any(l["msg"]=="listening" and l["port"]==int(sys.argv[2]) for l in ls)' "$IM_TMP/main.err" "$PORT"
  check "no error was logged" bash -c '! grep -q "\"level\":\"error\"" "$1"' _ "$IM_TMP/main.err"
fi

# --- 2. --log-json - (stdout) and SIGINT --------------------------------------------------------
if start_agent stdout --interval 0.25 --log-json -; then
  sleep 1
  kill -INT "$APID"; wait_exit "$APID" 10; rc=$EXIT_RC
  check "SIGINT -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "--log-json - writes JSON sample lines on stdout" json_lines_ok "$IM_TMP/stdout.out" system
fi

# --- 3. --pid: a build's process tree, which then exits -----------------------------------------
bash -c 'for i in 1 2 3; do sleep 3 & done; wait' &
BUILD=$!
IM_PIDS+=("$BUILD")
sleep 0.3
if start_agent tree --interval 0.25 --pid "$BUILD" --log-json "$IM_TMP/tree.jsonl"; then
  url="http://127.0.0.1:$PORT"
  curl -sS -o "$IM_TMP/tree1" "$url/metrics"
  check "--pid: im_build_processes{pid=\"$BUILD\"} counts the tree (root + 3 sleeps)" \
    awk -v p="im_build_processes{pid=\"$BUILD\"}" '$1==p{found=1; if ($2<4) bad=1} END{exit !(found && !bad)}' "$IM_TMP/tree1"
  for m in im_build_cpu_seconds_total im_build_rss_bytes im_build_peak_rss_bytes \
           im_build_io_read_bytes_total im_build_io_write_bytes_total; do
    check "--pid: $m{pid=\"$BUILD\"} present" grep -q "^$m{pid=\"$BUILD\"} " "$IM_TMP/tree1"
  done
  promtool check metrics <"$IM_TMP/tree1" >"$IM_TMP/promtool2" 2>&1; rc=$?
  check "promtool check metrics with a process tree: exit 0, no findings" \
    bash -c '[ "$1" -eq 0 ] && [ ! -s "$2" ]' _ "$rc" "$IM_TMP/promtool2"
  wait "$BUILD" 2>/dev/null
  sleep 1.5
  check "the agent keeps running after the watched build exits" kill -0 "$APID"
  curl -sS -o "$IM_TMP/tree2" -w '%{http_code}' "$url/metrics" >"$IM_TMP/code2"
  check "... and keeps serving system metrics" \
    bash -c '[ "$(cat "$1")" = 200 ] && grep -q "^im_mem_used_bytes " "$2"' _ "$IM_TMP/code2" "$IM_TMP/tree2"
  n=$(grep -c 'watched process' "$IM_TMP/tree.err" || true)
  check "... and logs the exit exactly once (got $n)" [ "$n" = 1 ]
  kill -TERM "$APID"; wait_exit "$APID" 10; rc=$EXIT_RC
  check "SIGTERM after the watched build exited -> exit 0 (got $rc)" [ "$rc" = 0 ]
  check "every stderr line is a JSON log object (tree run)" json_lines_ok "$IM_TMP/tree.err" level
fi

# --- 4. the HTTP layer's limits: HEAD, a slow client, oversized and malformed requests ----------
if start_agent limits --interval 1; then
  python3 - "$PORT" >"$IM_TMP/limits.out" 2>&1 <<'PY'
import http.client, socket, sys, threading, time
port = int(sys.argv[1])
fails = 0
def check(what, cond, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + what + (f" ({detail})" if detail else ""))
    fails += 0 if cond else 1
def raw(data, timeout=10):
    """Sends data on a fresh connection, reads until the server closes; returns (bytes, seconds)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    s.sendall(data)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout) as e:
            out += f"<{type(e).__name__}>".encode()
            break
        if not b:
            break
        out += b
    s.close()
    return out, time.monotonic() - t0
def status(resp):
    line = resp.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None

c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("HEAD", "/metrics")
r = c.getresponse(); body = r.read(); c.close()
check("HEAD /metrics -> 200 with the GET's Content-Length and no body",
      r.status == 200 and int(r.getheader("Content-Length", "0")) > 100 and body == b"",
      f"status {r.status}, Content-Length {r.getheader('Content-Length')}, {len(body)} body bytes")

c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/metrics?debug=1")
r = c.getresponse(); r.read(); c.close()
check("GET /metrics?query -> 200 (routing ignores the query string)", r.status == 200, f"got {r.status}")

# A slow client that never finishes its request: the agent drops it after its 5 s read deadline
# and serves other scrapes meanwhile (one event loop, no thread per connection).
slow = socket.create_connection(("127.0.0.1", port), timeout=15)
slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
t0 = time.monotonic()
time.sleep(0.2)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
c.request("GET", "/metrics"); r = c.getresponse(); r.read(); c.close()
check("a scrape during a stalled client's request is served", r.status == 200 and time.monotonic() - t0 < 3,
      f"status {r.status} after {time.monotonic() - t0:.2f} s")
try:
    got = slow.recv(65536)
except ConnectionResetError:
    got = b""
held = time.monotonic() - t0
slow.close()
check("a stalled request is closed by the agent after its 5 s read timeout",
      got == b"" and 4.5 <= held <= 9, f"closed after {held:.1f} s, got {got[:60]!r}")

# A few dozen silent clients (connected, nothing sent) do not delay a scrape: each waits for its
# own read deadline while the loop serves others. Prometheus' default scrape timeout is 10 s.
def silent(n):
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=15))
    time.sleep(0.3)
    return socks
def timed_scrape():
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=12)
    c.request("GET", "/metrics"); r = c.getresponse(); r.read(); c.close()
    return r.status, time.monotonic() - t0
quiet = silent(50)
st, took = timed_scrape()
check("with 50 silent clients connected, a scrape is served in under 1 s",
      st == 200 and took < 1.0, f"status {st} after {took:.2f} s")
for t in quiet:
    t.close()

# Past the 128-connection cap, each new client closes the oldest one still waiting for its
# request, so a scrape still gets in at once and the silent flood cannot hold every slot.
flood = silent(128 + 20)
st, took = timed_scrape()
check("with 148 silent clients (over the 128 cap), a scrape is served in under 1 s",
      st == 200 and took < 1.0, f"status {st} after {took:.2f} s")
t0 = time.monotonic()
try:
    got = flood[0].recv(65536)
except ConnectionResetError:
    got = b""
held = time.monotonic() - t0
check("the oldest silent client was closed to make room, before its 5 s read deadline",
      got == b"" and held < 2, f"closed after {held:.1f} s more, got {got[:60]!r}")
for t in flood:
    t.close()

resp, _ = raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
check("a request body over 8 KiB -> 413", status(resp) == 413, repr(resp[:80]))
resp, _ = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
check("a request header over 8 KiB -> 431", status(resp) == 431, repr(resp[:80]))
resp, _ = raw(b"NOT HTTP AT ALL\r\n\r\n")
check("a malformed request -> 400", status(resp) == 400, repr(resp[:80]))
resp, _ = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
check("raw HTTP/1.1 GET -> 200 with Connection: close, then the agent closes",
      status(resp) == 200 and b"\r\nConnection: close\r\n" in resp, repr(resp[:120]))
sys.exit(1 if fails else 0)
PY
  rc=$?
  cat "$IM_TMP/limits.out"
  check "HTTP limits: all checks above passed" [ "$rc" -eq 0 ]
  check "the agent still runs after the abusive clients" kill -0 "$APID"
  kill -TERM "$APID"; wait_exit "$APID" 10; rc=$EXIT_RC
  check "SIGTERM after the limits checks -> exit 0 (got $rc)" [ "$rc" = 0 ]
fi

# --- 5. IPv6 loopback with port 0 (the kernel picks the port; the agent logs it) ----------------
if grep -qs " lo$" /proc/net/if_inet6; then
  "$AGENT" --listen "[::1]:0" --interval 1 >"$IM_TMP/v6.out" 2>"$IM_TMP/v6.err" &
  APID=$!
  IM_PIDS+=("$APID")
  v6port=""
  for _ in $(seq 100); do
    v6port=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    l = json.loads(l)
    if l.get("msg") == "listening": print(l["port"]); break' "$IM_TMP/v6.err" 2>/dev/null)
    [ -n "$v6port" ] && break
    sleep 0.1
  done
  check "--listen [::1]:0 logs the port it got (got '$v6port')" [ "${v6port:-0}" -gt 0 ]
  code=$(curl -g -s -o "$IM_TMP/v6.metrics" -w '%{http_code}' "http://[::1]:${v6port:-1}/metrics")
  check "GET http://[::1]:PORT/metrics -> 200 with metrics (got $code)" \
    bash -c '[ "$1" = 200 ] && grep -q "^im_mem_used_bytes " "$2"' _ "$code" "$IM_TMP/v6.metrics"
  kill -TERM "$APID"; wait_exit "$APID" 10; rc=$EXIT_RC
  check "SIGTERM on [::1] -> exit 0 (got $rc)" [ "$rc" = 0 ]
else
  echo "note: no IPv6 loopback here (/proc/net/if_inet6 has no lo); [::1] check not run" >&2
fi

im_finish
