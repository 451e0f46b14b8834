"""Independent reader for inframind-core/tests/collect_tools.rs: psutil's view of a process
tree (root + recursive children), as one JSON object on stdout.

cpu_seconds counts user + system of every live member plus the children they reaped
(children_user + children_system), the quantity ProcessTreeSampler reports.
"""
import json
import sys

import psutil

root = psutil.Process(int(sys.argv[1]))
members = [root] + root.children(recursive=True)
out = {"processes": 0, "cpu_seconds": 0.0, "rss_bytes": 0, "read_bytes": 0, "write_bytes": 0}
for p in members:
    try:
        with p.oneshot():
            t = p.cpu_times()
            status = p.status()
            rss = p.memory_info().rss
            io = p.io_counters()
    except psutil.NoSuchProcess:
        continue
    out["cpu_seconds"] += t.user + t.system + t.children_user + t.children_system
    if status != psutil.STATUS_ZOMBIE:
        out["processes"] += 1
        out["rss_bytes"] += rss
    out["read_bytes"] += io.read_bytes
    out["write_bytes"] += io.write_bytes
print(json.dumps(out))
