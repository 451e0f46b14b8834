#!/usr/bin/env bash
# Rust: formatting, clippy with -D warnings, and every workspace test (unit, integration, doc).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >&2 || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

# The core's features: an optimizer-only build compiles (all targets, clippy-clean) and passes
# its unit tests without procfs, regex, jiff or a YAML parser, and each feature compiles alone.
cargo clippy -p inframind-core --no-default-features --all-targets --locked -- -D warnings
for feature in parallel collect healing yaml; do
  cargo check -p inframind-core --no-default-features --features "$feature" --lib --locked
done
cargo test -p inframind-core --no-default-features --locked --lib
pulled="$(cargo tree -p inframind-core --no-default-features -e normal --prefix none --locked \
  | grep -E '^(procfs|regex|regex-syntax|serde_norway|jiff|rayon) ' || true)"
if [ -n "$pulled" ]; then
  echo "inframind-core without default features pulls in: $pulled" >&2
  exit 1
fi
