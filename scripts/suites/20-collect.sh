#!/usr/bin/env bash
# /proc collectors against real tools (inframind-core/tests/collect_tools.rs): ccache and
# sccache (Debian) on a real gcc compile, `promtool check metrics` (Debian prometheus) on the
# exposition, and Python psutil (PyPI, in .im-venv) as a second independent reader of a busy
# process tree. The collect_tree tests (our own /proc reader) run in 10-rust.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

need=()
command -v ccache >/dev/null 2>&1 || need+=(ccache)
command -v sccache >/dev/null 2>&1 || need+=(sccache)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  im_apt_install "${need[@]}" || true
fi
for tool in ccache sccache promtool gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    im_skip "20-collect" "$tool not found (Debian packages: ccache sccache prometheus gcc)"
    exit $?
  fi
done

PY="$(im_venv)" || { im_skip "20-collect" "cannot create the venv .im-venv"; exit $?; }
if ! "$PY" -c "import psutil" 2>/dev/null; then
  "$PY" -m pip install -q "psutil>=5.9" >&2 || { im_skip "20-collect" "cannot pip install psutil"; exit $?; }
fi
export IM_PYTHON="$PY"

# Throw-away caches, and an sccache server of our own on a free loopback port, stopped on exit.
work="$(mktemp -d)"
export CCACHE_DIR="$work/ccache" SCCACHE_DIR="$work/sccache"
SCCACHE_SERVER_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SCCACHE_SERVER_PORT
cleanup() {
  sccache --stop-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

im_log "ccache: $(ccache --version | head -1); sccache: $(sccache --version); $(promtool --version 2>&1 | head -1); psutil $("$PY" -c 'import psutil; print(psutil.__version__)')"
# One thread: the tests share the cache directories and the sccache server.
cargo test -p inframind-core --locked --test collect_tools -- --ignored --test-threads=1 --nocapture
