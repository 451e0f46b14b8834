#!/usr/bin/env bash
# Coverage-guided fuzzing (fuzz/, libFuzzer through libfuzzer-sys on the stable toolchain): builds
# the targets once and runs each briefly (IM_FUZZ_SECONDS, default 15 s) from its seed corpus:
# model files, policy JSON and YAML, Alertmanager webhooks, run/context JSON and build logs.
# A target fails on any panic (its checked invariants: round trips, usable predictions, sane
# verdicts), hang or memory blow-up; the input is kept under fuzz/artifacts/TARGET/. Longer runs:
# scripts/fuzz --seconds N (see fuzz/README.md).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

# libfuzzer-sys compiles libFuzzer's C++ sources with the cc crate: a C++ compiler is all it needs.
im_apt_install g++ || true
missing=()
for tool in cargo rustc c++; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  im_skip "80-fuzz" "missing ${missing[*]} (Debian package g++ for c++; cargo and rustc from rustup)"
  exit $?
fi

seconds="${IM_FUZZ_SECONDS:-15}"
targets=()
while IFS= read -r t; do targets+=("$t"); done < <(scripts/fuzz --list)

passed=0
failed=0
failures=()
for t in "${targets[@]}"; do
  # The first call builds; the others find the build up to date.
  rc=0
  scripts/fuzz --seconds "$seconds" "$t" || rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$t (exit $rc)")
    [ "$rc" -eq 2 ] && break  # the build failed: no target can run
  fi
done

im_log "fuzz suite: ${#targets[@]} targets, ${seconds}s each"
[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
