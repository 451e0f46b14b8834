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
