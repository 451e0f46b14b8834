#!/usr/bin/env bash
# Builds libinframind with cargo and installs it into PREFIX:
#   PREFIX/lib/libinframind.{so,a}, PREFIX/include/inframind.h,
#   PREFIX/lib/pkgconfig/inframind.pc, PREFIX/lib/cmake/inframind/inframindConfig*.cmake
# (lib may be lib/<multiarch> when PREFIX is /usr, as GNUInstallDirs decides).
#
# Usage: bindings/c/install.sh [--debug] PREFIX
#   --debug  install the cargo debug build (faster to build; what the tests use)
# Needs cargo and cmake (>= 3.16). Then:
#   cmake: find_package(inframind CONFIG REQUIRED) with -DCMAKE_PREFIX_PATH=PREFIX,
#          target_link_libraries(app PRIVATE inframind::inframind)
#   pkg-config: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs inframind
set -euo pipefail

build_type=Release
if [ "${1:-}" = "--debug" ]; then
  build_type=Debug
  shift
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 [--debug] PREFIX" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$(mkdir -p "$1" && cd "$1" && pwd)"
command -v cmake >/dev/null 2>&1 || { echo "install.sh: cmake not found (apt-get install cmake)" >&2; exit 2; }

build="$(mktemp -d "${TMPDIR:-/tmp}/inframind-build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DINFRAMIND_INSTALL=ON >&2
cmake --build "$build" >&2
cmake --install "$build" >&2
echo "installed libinframind into $prefix"
