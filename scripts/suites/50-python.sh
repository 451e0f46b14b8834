#!/usr/bin/env bash
# Python wheel (bindings/python): build the abi3 wheel with maturin (from PyPI, in .im-venv),
# install it into a FRESH venv (wheels only: no compiler involved), check the stubs with
# mypy.stubtest, run pytest (tests/, incl. the FastAPI example via TestClient), and serve the
# example with uvicorn on 127.0.0.1 for a real HTTP round trip.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

if ! command -v python3 >/dev/null 2>&1; then
  im_skip "50-python" "python3 not found"
  exit $?
fi
if ! PY="$(im_venv)"; then
  im_skip "50-python" "cannot create the project venv .im-venv (python3 -m venv)"
  exit $?
fi
"$PY" -m pip install -q "maturin>=1.9.4,<2" >&2
MATURIN="$(dirname "$PY")/maturin"
im_log "maturin: $("$MATURIN" --version)"

# A target dir of its own: maturin sets PYO3_BUILD_EXTENSION_MODULE, which would otherwise make
# every workspace build recompile pyo3 (and wait on the shared target dir's lock).
WHEELS="$IM_ROOT/target/py-wheel"
mkdir -p "$WHEELS"
rm -f "$WHEELS"/inframind-*.whl
"$MATURIN" build --locked -m bindings/python/Cargo.toml --target-dir "$IM_ROOT/target/maturin" \
  --interpreter python3 -o "$WHEELS" >&2
WHEEL="$(ls "$WHEELS"/inframind-*.whl)"
im_log "built $(basename "$WHEEL")"
case "$(basename "$WHEEL")" in
  *-cp39-abi3-*) ;;
  *) echo "expected one cp39-abi3 wheel, got $(basename "$WHEEL")" >&2; exit 1 ;;
esac

VENV="$IM_ROOT/target/py-test-venv"
rm -rf "$VENV"
python3 -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip >&2
# --only-binary: everything arrives as a wheel, so nothing could be compiled on the way.
"$VPY" -m pip install -q --only-binary=:all: "$WHEEL" \
  pytest hypothesis numpy fastapi httpx mypy uvicorn >&2

# Outside the source tree, so `inframind` can only come from the installed wheel.
cd "$VENV"
"$VPY" -c "import inframind, sys; print('import inframind', inframind.__version__, 'from', inframind.__file__)"
"$VPY" -c "import inframind; assert inframind.__file__.startswith('$VENV'), inframind.__file__"

im_log "mypy.stubtest inframind._inframind"
"$VPY" -m mypy.stubtest inframind._inframind

im_log "pytest bindings/python/tests"
set +e
"$VPY" -m pytest -q -p no:cacheprovider "$IM_ROOT/bindings/python/tests"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"

im_log "uvicorn fastapi_service:app on 127.0.0.1 (INFRAMIND_DEMO=1)"
PORT="$("$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$VENV/uvicorn.log"
(
  cd "$IM_ROOT/bindings/python/examples"
  INFRAMIND_TOKEN=suite-token INFRAMIND_DEMO=1 exec "$VENV/bin/uvicorn" fastapi_service:app \
    --host 127.0.0.1 --port "$PORT" --log-level warning
) >"$LOG" 2>&1 &
UVICORN_PID=$!
trap 'kill "$UVICORN_PID" 2>/dev/null || true; wait "$UVICORN_PID" 2>/dev/null || true' EXIT
"$VPY" - "$PORT" <<'EOF'
import json, sys, time, urllib.error, urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("uvicorn did not answer /healthz within 60 s")

def post(path, body, token="suite-token"):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "X-IM-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

status, body = post("/optimize", {"pipeline": "demo/example-app", "seed": 7,
                                  "context": {"tool": "cmake", "max_rss_gb": 4, "num_steps": 5}})
assert status == 200 and body["cold_start"] is False and body["env"]["MAKEFLAGS"].startswith("-j"), body
status, body = post("/optimize", {"pipeline": "demo/example-app", "context": {"tool": "cmake"}}, token="wrong")
assert status == 401 and body["error"]["code"] == "unauthorized", body
print("uvicorn: /optimize answered", flush=True)
EOF
