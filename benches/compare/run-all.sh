#!/usr/bin/env bash
# Runs compare.sh on every comparison dataset and writes one JSON per dataset to OUT_DIR
# (default target/compare): the demo build telemetry (5k and 50k training rows, test rows from
# other histories), scikit-learn's Friedman #1 (5k rows) and its bundled diabetes data.
#
#   benches/compare/run-all.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib.sh"
out="${1:-$IM_ROOT/target/compare}"
mkdir -p "$out"
py="$(im_venv)"
"$py" -c "import sklearn, numpy" 2>/dev/null || "$py" -m pip install -q scikit-learn numpy >&2
(cd "$IM_ROOT" && cargo build --release -q -p inframind-benches --bin im-compare)
"$IM_ROOT/target/release/im-compare" gen-demo 5000 "$out/demo5k_train.csv" "$out/demo5k_test.csv"
"$IM_ROOT/target/release/im-compare" gen-demo 50000 "$out/demo50k_train.csv" "$out/demo50k_test.csv"
"$py" "$here/datasets.py" "$out"
for d in demo5k demo50k friedman1 diabetes; do
  echo "== $d"
  "$here/compare.sh" "$out/${d}_train.csv" "$out/${d}_test.csv" --json "$out/$d.json"
done
