#!/usr/bin/env bash
# Side by side: the InfraMind forest and scikit-learn's RandomForestRegressor(n_estimators=100,
# n_jobs=-1, random_state=0) trained and tested on the same CSV files in one run.
#
#   benches/compare/compare.sh TRAIN.csv TEST.csv [--json OUT]
#
# Any CSV with a header and numeric columns, the target last. Installs scikit-learn into the
# project venv (.im-venv) on first use. Prints fit seconds, test R² and MAE, median latency of a
# 1-row and a 150-row prediction, and serialized model size for both; --json OUT writes
# {"inframind": {...}, "sklearn": {...}}.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"

usage() { echo "usage: $0 TRAIN.csv TEST.csv [--json OUT]" >&2; exit 2; }
[ $# -ge 2 ] || usage
train="$1"; test="$2"; shift 2
json_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) [ $# -ge 2 ] || usage; json_out="$2"; shift 2 ;;
    *) usage ;;
  esac
done
for f in "$train" "$test"; do [ -r "$f" ] || { echo "cannot read $f" >&2; exit 2; }; done

py="$(im_venv)"
"$py" -c "import sklearn, numpy" 2>/dev/null || "$py" -m pip install -q scikit-learn numpy >&2

(cd "$IM_ROOT" && cargo build --release -q -p inframind-benches --bin im-compare)
ours="$("$IM_ROOT/target/release/im-compare" "$train" "$test")"
theirs="$("$py" "$here/sklearn_side.py" "$train" "$test")"

"$py" - "$ours" "$theirs" "$json_out" <<'PY'
import json, sys
ours, theirs, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
keys = ["fit_s", "r2", "mae", "predict_1_us", "predict_150_us", "model_bytes"]
print(f"{'metric':<16}{'inframind':>14}{'scikit-learn':>14}{'ratio':>10}")
for k in keys:
    a, b = ours[k], theirs[k]
    ratio = "" if k in ("r2",) or a == 0 else f"{b / a:>9.1f}x"
    if k == "r2":
        ratio = f"{a - b:+.4f}"
    print(f"{k:<16}{a:>14.4g}{b:>14.4g}{ratio:>10}")
print(f"rows: train {ours['n_train']}, test {ours['n_test']}; ratio = scikit-learn / inframind (r2: difference)")
if out:
    with open(out, "w") as f:
        json.dump({"inframind": {k: ours[k] for k in keys}, "sklearn": {k: theirs[k] for k in keys}}, f, indent=2)
PY
