"""Prints the table of benches/server/load.sh from its JSON (stdin)."""
import json
import sys

d = json.load(sys.stdin)
print("%-34s %10s %8s %8s %7s  %s" % ("case", "req/s", "p50 ms", "p99 ms", "errors", "notes"))
for r in d["results"]:
    if "skipped" in r:
        print("%-34s SKIPPED: %s" % (r["case"], r["skipped"]))
    elif "le_2ms" in r:
        print("%-34s %d requests: %.2f%% within 1 ms, %.2f%% within 2 ms"
              % (r["case"], r["requests"], 100 * r["le_1ms"], 100 * r["le_2ms"]))
    elif "stored" in r:
        print("%-34s acknowledged %d, stored %d, lost %d"
              % (r["case"], r["acknowledged"], r["stored"], r["lost"]))
    else:
        print("%-34s %10.0f %8.3f %8.3f %7d  ok %d"
              % (r["case"], r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r["ok"]))
