# Shared helpers for scripts/test-all and scripts/suites/*.sh. Source, do not run.
# A suite that lacks a tool installs it (apt-get as root, pip into a venv) or, outside CI, skips
# with a loud message naming what is missing. In CI (CI=true) a skip is a failure.

IM_ROOT="${IM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export IM_ROOT
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

im_log() { printf '\n==> %s\n' "$*" >&2; }

# im_skip "suite" "what is missing": skip loudly, or fail in CI.
im_skip() {
  local suite="$1" why="$2"
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! SKIPPED suite %s: %s\n' "$suite" "$why" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true: a skipped suite is a failure" >&2
    return 1
  fi
  return 0
}

_IM_APT_UPDATED=""
# im_apt_install pkg...: installs missing Debian packages when root. Returns 1 if it cannot.
im_apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != "0" ]; then
    echo "missing Debian packages: ${missing[*]} (run as root or install them)" >&2
    return 1
  fi
  if [ -z "$_IM_APT_UPDATED" ]; then
    apt-get update -qq >&2 || return 1
    _IM_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# im_venv: creates (once) the project venv at $IM_ROOT/.im-venv and prints its python.
im_venv() {
  local v="$IM_ROOT/.im-venv"
  if [ ! -x "$v/bin/python" ]; then
    python3 -m venv "$v" >&2 || return 1
    "$v/bin/python" -m pip install -q --upgrade pip >&2 || return 1
  fi
  echo "$v/bin/python"
}
