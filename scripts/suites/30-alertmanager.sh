#!/usr/bin/env bash
# Alertmanager conformance: our label matchers (inframind-core healing) against the real
# `amtool` from Debian's prometheus-alertmanager: parse verdicts, canonical form, and routing
# verdicts on generated label sets (inframind-core/tests/healing_amtool.rs).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

if ! command -v amtool >/dev/null 2>&1; then
  im_apt_install prometheus-alertmanager || true
fi
if ! command -v amtool >/dev/null 2>&1; then
  im_skip "30-alertmanager" "amtool not found (install Debian package prometheus-alertmanager)"
  exit $?
fi
im_log "amtool: $(amtool --version 2>&1 | head -1)"
cargo test -p inframind-core --locked --test healing_amtool -- --ignored --nocapture
