-- wrk script for benches/server/load.sh: POSTs the JSON body in $BODY_FILE with the token in
-- $IM_TOKEN, counts the answers with the expected status ($OK_STATUS, default 200) and prints
-- one machine-readable line at the end:
--   WRKJSON {"requests":..,"duration_s":..,"rps":..,"p50_ms":..,"p99_ms":..,"ok":..,"errors":..}

local body_file = os.getenv("BODY_FILE")
local token = os.getenv("IM_TOKEN") or ""
local ok_status = tonumber(os.getenv("OK_STATUS") or "200")
-- $DELAY_MS > 0: each connection waits that long after an answer before its next request
-- (a paced load, e.g. 8 connections x 3 ms ~ 2,300 req/s), instead of sending at once.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

local f = assert(io.open(body_file, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-IM-Token"] = token

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
end

function response(status, headers, body)
  if status == ok_status then
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local acked = 0
  for _, t in ipairs(threads) do
    acked = acked + t:get("ok")
  end
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"ok":%d,"errors":%d,"non_ok_status":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    acked, errors, e.status))
end
