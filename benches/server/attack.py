"""The attack set against a running inframind-server (run through benches/server/attack.sh).

Every loop is bounded and every socket goes to 127.0.0.1. While the attacks run, a separate
process probes GET /healthz on a fresh connection every 20 ms. Prints one line per attack
(expected answer, what came back) and the server's peak RSS (VmHWM) and /healthz latency.

    python attack.py --port PORT --pid PID --token TOKEN [--header-timeout S]
"""

import argparse
import json
import multiprocessing
import socket
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"
MAX_BODY = 1 << 20


def request(port, method, path, body=b"", token=None, timeout=10.0, raw_body=None):
    """One request on a new connection; (status, body text) or (None, error text)."""
    data = raw_body if raw_body is not None else body
    head = f"{method} {path} HTTP/1.1\r\nHost: attack\r\nConnection: close\r\n"
    if token:
        head += f"X-IM-Token: {token}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(head.encode("latin-1") + data)
            chunks = []
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
    except OSError as e:
        return None, f"{type(e).__name__}: {e}"
    text = b"".join(chunks).decode("utf-8", "replace")
    line = text.split("\r\n", 1)[0]
    parts = line.split(" ")
    if len(parts) < 2 or not parts[1].isdigit():
        return None, f"no status line: {text[:80]!r}"
    return int(parts[1]), text.split("\r\n\r\n", 1)[-1]


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def prober(port, stop, out):
    """GET /healthz on a fresh connection every 20 ms until `stop`; latencies (s) or None."""
    lat = []
    nxt = time.monotonic()
    while not stop.is_set():
        t0 = time.monotonic()
        status, _ = request(port, "GET", "/healthz", timeout=2.0)
        lat.append(time.monotonic() - t0 if status == 200 else None)
        nxt += 0.02
        time.sleep(max(0.0, nxt - time.monotonic()))
    out.put(lat)


class Results:
    def __init__(self):
        self.rows = []
        self.lock = threading.Lock()

    def add(self, name, expected, counts, ok):
        with self.lock:
            self.rows.append((name, expected, counts, ok))
        verdict = "ok" if ok else "UNEXPECTED"
        print(f"{verdict:10} {name}: expected {expected}; got {counts}", flush=True)


def tally(answers):
    counts = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: str(kv[0])))


def pool(n_threads, items, fn):
    """Runs fn over items on n_threads threads; the answers in order."""
    out = [None] * len(items)
    idx = iter(range(len(items)))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = next(idx, None)
            if i is None:
                return
            out[i] = fn(items[i])

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def invented_methods(port, token, res):
    def one(i):
        status, body = request(port, f"ZQX{i}", "/optimize", token=token)
        return (status, error_code(body))

    got = tally(pool(8, list(range(1000)), one))
    res.add("1,000 invented methods on /optimize", "405 invalid_input", got,
            list(got) == [(405, "invalid_input")])


def unknown_paths(port, token, res):
    def one(i):
        status, body = request(port, "GET", f"/no/such/{i}/{'x' * (i % 200)}", token=token)
        return (status, error_code(body))

    got = tally(pool(8, list(range(1000)), one))
    res.add("1,000 unknown paths", "404 not_found", got, list(got) == [(404, "not_found")])


PATHOLOGICAL = [
    r'job=~"(?:\w+\d{300}){3}"',
    r'job=~"(a{1000}){1000}"',
    r'job=~"((((\w{20}){20}){20}){20})"',
    r'job=~"(\pL{100}){100}"',
    r'job=~"[\p{Any}--a]{5000}"',
    r'job=~"(x+x+)+y{999}{999}"',
    r'job=~"(unclosed"',
    r'job=~"\p{NoSuchClass}"',
]


def pathological_policies(port, token, res):
    def one(i):
        pol = {"name": f"evil-{i}", "condition": {"matchers": [PATHOLOGICAL[i % len(PATHOLOGICAL)]]},
               "action": {"tool": "restart_pod", "params": {"pod": "${label.pod}"}}}
        status, body = request(port, "POST", "/policies", json.dumps(pol).encode(), token=token,
                               timeout=30.0)
        return (status, error_code(body))

    got = tally(pool(4, list(range(8 * len(PATHOLOGICAL))), one))
    res.add(f"{8 * len(PATHOLOGICAL)} policies with pathological regexes", "422 invalid_input",
            got, list(got) == [(422, "invalid_input")])


def huge_pipeline_names(port, token, res):
    # The pipeline name fills the body up to the body limit (--max-body-bytes, 1 MiB): a larger
    # body is a 413 before the name is looked at.
    shell = json.dumps({"pipeline": "", "context": {"tool": "make"}}).encode()
    name = "p" * (MAX_BODY - len(shell))
    body = json.dumps({"pipeline": name, "context": {"tool": "make"}}).encode()
    assert len(body) == MAX_BODY

    def one(_):
        status, resp = request(port, "POST", "/optimize", body, token=token, timeout=30.0)
        return (status, error_code(resp))

    got = tally(pool(4, list(range(600)), one))
    res.add("600 /optimize with 1 MiB pipeline names", "422 invalid_input", got,
            list(got) == [(422, "invalid_input")])


def trailing_garbage(port, token, res):
    body = b'{"pipeline":"demo/example-app","context":{"tool":"cmake"}} {"pipeline":"other"}'
    status, resp = request(port, "POST", "/optimize", body, token=token)
    got = {(status, error_code(resp)): 1}
    ok = status == 422 and error_code(resp) == "invalid_input" and "after the JSON value" in resp
    res.add("a body with trailing garbage", "422 invalid_input (after the JSON value)", got, ok)


def redelivered_steps(port, token, res):
    run_id = f"attack-{int(time.time())}"
    status, resp = request(port, "POST", "/builds/start", json.dumps(
        {"pipeline": "attack/redeliver", "tool": "make", "run_id": run_id}).encode(), token=token)
    if status != 201:
        res.add("steps redelivered 3 times", "start 201", {(status, resp[:80]): 1}, False)
        return
    n = 100
    answers = []
    indexes = {}
    for i in range(n):
        step = json.dumps({"run_id": run_id, "name": f"step-{i}", "duration_s": 1.0,
                           "step_id": f"s-{i}"}).encode()
        for _ in range(3):
            status, resp = request(port, "POST", "/builds/step", step, token=token)
            answers.append(status)
            if status in (200, 201):
                indexes.setdefault(i, set()).add(json.loads(resp)["step_index"])
    status, resp = request(port, "GET", f"/builds/{run_id}", token=token)
    stored = len(json.loads(resp)["steps"]) if status == 200 else None
    same_index = all(len(v) == 1 for v in indexes.values()) and len(indexes) == n
    got = tally(answers)
    got["stored"] = stored
    res.add(f"{n} steps redelivered 3 times", f"201 each, one index per step, {n} stored", got,
            same_index and stored == n and set(answers) <= {200, 201})


def held_sockets(port, n_silent, n_trickle, header_timeout, res, done):
    """Silent and trickling connections: each must be closed by the server in time."""
    t_start = time.monotonic()
    silent, trickle = [], []
    refused = 0
    for _ in range(n_silent):
        try:
            silent.append(socket.create_connection((HOST, port), timeout=3))
        except OSError:
            refused += 1
    for _ in range(n_trickle):
        try:
            s = socket.create_connection((HOST, port), timeout=3)
            s.sendall(b"POST /optimize HTTP/1.1\r\nX-Slow: ")
            trickle.append(s)
        except OSError:
            refused += 1
    opened = time.monotonic()
    print(f"           (held sockets: {n_silent + n_trickle - refused} opened in "
          f"{opened - t_start:.1f} s; closing times below count from the last one)", flush=True)
    bound = header_timeout + 5.0
    closed_at = {}
    live = {id(s): s for s in silent + trickle}
    kind = {id(s): "silent" for s in silent}
    kind.update({id(s): "trickle" for s in trickle})
    for s in live.values():
        s.setblocking(False)
    while live and time.monotonic() - opened < bound + 5.0:
        for k, s in list(live.items()):
            if kind[k] == "trickle":
                try:
                    s.send(b"a")
                except OSError:
                    closed_at[k] = time.monotonic() - opened
                    del live[k]
                    continue
            try:
                if s.recv(4096) == b"":
                    closed_at[k] = time.monotonic() - opened
                    del live[k]
            except BlockingIOError:
                pass
            except OSError:
                closed_at[k] = time.monotonic() - opened
                del live[k]
        time.sleep(0.5)
    for s in silent + trickle:
        s.close()
    for name, n in (("silent", n_silent), ("trickle", n_trickle)):
        times = [t for k, t in closed_at.items() if kind[k] == name]
        got = {"closed": len(times), "open at the end": n - len(times) - (refused if name == "silent" else 0)}
        if times:
            got["closed after s (min/max)"] = f"{min(times):.1f}/{max(times):.1f}"
        label = "1,000 silent sockets" if name == "silent" else "200 trickling connections"
        res.add(label, f"closed by the server within {bound:.0f} s (header timeout + 5 s)",
                got, len(times) == n and max(times) <= bound)
    if refused:
        print(f"           ({refused} held sockets could not connect)", flush=True)
    done.set()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--header-timeout", type=float, default=10.0)
    a = ap.parse_args()

    stop = multiprocessing.Event()
    q = multiprocessing.Queue()
    probe = multiprocessing.Process(target=prober, args=(a.port, stop, q))
    probe.start()
    time.sleep(0.5)
    res = Results()
    started = time.monotonic()
    held_done = threading.Event()
    held = threading.Thread(target=held_sockets,
                            args=(a.port, 1000, 200, a.header_timeout, res, held_done))
    held.start()
    for attack in (invented_methods, unknown_paths, pathological_policies, huge_pipeline_names,
                   trailing_garbage, redelivered_steps):
        attack(a.port, a.token, res)
    held.join()
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    stop.set()
    lat = q.get(timeout=30)
    probe.join(timeout=10)

    with open(f"/proc/{a.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    hwm_mib = int(status["VmHWM"].split()[0]) / 1024
    rss_mib = int(status["VmRSS"].split()[0]) / 1024
    ok_lat = [x for x in lat if x is not None]
    failed = len(lat) - len(ok_lat)
    p50, p99, mx = (pct(ok_lat, 50) * 1000, pct(ok_lat, 99) * 1000, max(ok_lat) * 1000)
    all_ok = all(r[3] for r in res.rows)
    print()
    print(f"attack duration          {elapsed:.1f} s")
    print(f"server peak RSS (VmHWM)  {hwm_mib:.1f} MiB (now {rss_mib:.1f} MiB)   target < 150 MiB: "
          f"{'met' if hwm_mib < 150 else 'MISSED'}")
    print(f"/healthz probes          {len(lat)} every 20 ms, {failed} failed")
    print(f"/healthz latency         p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {mx:.2f} ms   "
          f"target p99 < 50 ms: {'met' if p99 < 50 and failed == 0 else 'MISSED'}")
    print(f"every attack answered as expected: {'yes' if all_ok else 'NO'}")
    return 0 if all_ok and hwm_mib < 150 and p99 < 50 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
