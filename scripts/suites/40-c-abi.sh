#!/usr/bin/env bash
# libinframind (bindings/c): header drift, the C11 test program (-Wall -Wextra -Werror -pedantic)
# against the .so, the .a and pkg-config's flags, the C++ GoogleTest suite under ctest against an
# installed prefix (find_package shared/static, pkg-config) and through add_subdirectory; the C
# and C++ tests again under AddressSanitizer and under valgrind (errors and definite/indirect
# leaks fail). Debug profile throughout.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

im_apt_install cmake pkg-config valgrind libgtest-dev g++ || true
for tool in cmake pkg-config valgrind gcc g++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    im_skip "40-c-abi" "$tool not found (Debian packages: cmake pkg-config valgrind libgtest-dev g++)"
    exit $?
  fi
done
if [ ! -f /usr/include/gtest/gtest.h ]; then
  im_skip "40-c-abi" "GoogleTest not found (Debian package libgtest-dev)"
  exit $?
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/im-c-abi.XXXXXX")"
trap 'rm -rf "$work"' EXIT

im_log "header: bindings/c/include/inframind.h matches the sources (cbindgen)"
cargo test -p inframind-c --locked --test header

im_log "build libinframind (debug) and the test fixtures"
cargo build -p inframind-c --locked --lib
cargo run -q -p inframind-c --locked --example fixtures -- "$work/fixtures"
target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
lib="$target_dir/debug"
static_deps=(-lgcc_s -lutil -lrt -lpthread -lm -ldl)
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I bindings/c/include)
asan=(-fsanitize=address -fno-omit-frame-pointer)
src=bindings/c/tests/c/test_inframind.c
vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet)
export ASAN_OPTIONS=detect_leaks=1

im_log "C11: build (gcc ${cflags[*]})"
gcc "${cflags[@]}" "$src" -o "$work/c_shared" -L"$lib" -linframind -lm -Wl,-rpath,"$lib"
gcc "${cflags[@]}" "$src" -o "$work/c_static" "$lib/libinframind.a" "${static_deps[@]}"
gcc "${cflags[@]}" "${asan[@]}" "$src" -o "$work/c_asan_static" "$lib/libinframind.a" "${static_deps[@]}"
gcc "${cflags[@]}" "${asan[@]}" "$src" -o "$work/c_asan_shared" -L"$lib" -linframind -lm -Wl,-rpath,"$lib"

im_log "C11: run against the .so, the .a, under ASan (.a and .so) and under valgrind (.so)"
"$work/c_shared" "$work/fixtures"
"$work/c_static" "$work/fixtures"
"$work/c_asan_static" "$work/fixtures"
"$work/c_asan_shared" "$work/fixtures"
"${vg[@]}" "$work/c_shared" "$work/fixtures"

im_log "install into a prefix (bindings/c/install.sh --debug)"
bindings/c/install.sh --debug "$work/prefix"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
im_log "pkg-config: $(pkg-config --modversion inframind): $(pkg-config --cflags --libs inframind)"
# shellcheck disable=SC2046 # word splitting of pkg-config's flags is intended
gcc "${cflags[@]}" $(pkg-config --cflags inframind) "$src" -o "$work/c_pkg_config" \
  $(pkg-config --libs inframind) -lm -Wl,-rpath,"$work/prefix/lib"
"$work/c_pkg_config" "$work/fixtures"

run_ctest() {
  local name="$1" only="$2"
  shift 2
  im_log "C++ (GoogleTest, ctest): $name"
  cmake -S bindings/c/tests/cpp -B "$work/cpp-$name" -DINFRAMIND_FIXTURES="$work/fixtures" "$@" >&2
  cmake --build "$work/cpp-$name" -j2 >&2
  ctest --test-dir "$work/cpp-$name" --output-on-failure -j2 -R "$only"
}
run_ctest installed . -DCMAKE_PREFIX_PATH="$work/prefix"
run_ctest installed-asan . -DCMAKE_PREFIX_PATH="$work/prefix" -DIM_SANITIZE=address
# valgrind is slow (about a minute a binary on a loaded machine): the C program covered the .so,
# so the C++ suite runs under it linked statically.
run_ctest installed-valgrind cpp_find_package_static -DCMAKE_PREFIX_PATH="$work/prefix" -DIM_VALGRIND=ON
run_ctest add-subdirectory . -DIM_ADD_SUBDIRECTORY=ON
