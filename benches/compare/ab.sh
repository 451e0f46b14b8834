#!/usr/bin/env bash
# A/B of two builds of the forest on the same files in one window: runs the `im-compare` of each
# build alternately (old, new, old, new, ...) on every dataset, so both see the same machine
# speed, and prints the median of each metric per build and their ratio.
#
#   benches/compare/ab.sh OLD_IM_COMPARE NEW_IM_COMPARE [ROUNDS] [DATA_DIR]
#
# Build the old one from another worktree with its own target dir, e.g.
#   git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release -p inframind-benches --bin im-compare)
# DATA_DIR holds the CSV pairs of run-all.sh (default target/compare; made by run-all.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
[ $# -ge 2 ] || { echo "usage: $0 OLD_IM_COMPARE NEW_IM_COMPARE [ROUNDS] [DATA_DIR]" >&2; exit 2; }
old="$1"; new="$2"; rounds="${3:-3}"; data="${4:-$IM_ROOT/target/compare}"
for b in "$old" "$new"; do [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }; done
py="$(im_venv)"
out="$(mktemp -d "${TMPDIR:-/tmp}/im-ab.XXXXXX")"
trap 'rm -rf "$out"' EXIT
for d in demo5k demo50k friedman1; do
  [ -r "$data/${d}_train.csv" ] || { echo "missing $data/${d}_train.csv (run run-all.sh first)" >&2; exit 2; }
  for r in $(seq 1 "$rounds"); do
    "$old" "$data/${d}_train.csv" "$data/${d}_test.csv" > "$out/$d.old.$r.json"
    "$new" "$data/${d}_train.csv" "$data/${d}_test.csv" > "$out/$d.new.$r.json"
  done
done
"$py" - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
keys = ["fit_s", "predict_1_us", "predict_150_us", "r2", "model_bytes"]
print(f"{'dataset':<10}{'metric':<16}{'old (median)':>14}{'new (median)':>14}{'new/old':>9}  runs: old | new")
for d in ["demo5k", "demo50k", "friedman1"]:
    runs = {s: [json.load(open(f"{out}/{d}.{s}.{r}.json")) for r in range(1, rounds + 1)] for s in ("old", "new")}
    for k in keys:
        o = [x[k] for x in runs["old"]]; n = [x[k] for x in runs["new"]]
        mo, mn = statistics.median(o), statistics.median(n)
        ratio = f"{mn / mo:>8.3f}x" if mo else ""
        fmt = lambda v: f"{v:.4g}"
        print(f"{d:<10}{k:<16}{fmt(mo):>14}{fmt(mn):>14}{ratio:>9}  {' '.join(map(fmt, o))} | {' '.join(map(fmt, n))}")
PY
