"""Share of a route's requests the server answered within 1 ms and 2 ms between two scrapes of
its /metrics (inframind_http_request_duration_seconds), as one JSON line for load.sh.

    server_share.py CASE ROUTE BEFORE.txt AFTER.txt
"""
import json
import re
import sys

BUCKET = re.compile(
    r'^inframind_http_request_duration_seconds_bucket\{route="([^"]*)",le="([^"]*)"\} (\S+)$')


def buckets(path, route):
    out = {}
    with open(path) as f:
        for line in f:
            m = BUCKET.match(line.strip())
            if m and m.group(1) == route:
                out[m.group(2)] = float(m.group(3))
    return out


case, route, before, after = sys.argv[1:5]
b, a = buckets(before, route), buckets(after, route)
if "+Inf" not in a:
    sys.exit(f"no histogram for route {route} in {after}")
delta = {le: a[le] - b.get(le, 0.0) for le in a}
n = delta["+Inf"]
share = {le: (delta[le] / n if n else 0.0) for le in ("0.001", "0.002")}
print(json.dumps({"case": case, "requests": int(n),
                  "le_1ms": round(share["0.001"], 5), "le_2ms": round(share["0.002"], 5)}))
