#!/usr/bin/env bash
# Jenkins shared library (jenkins/): the three steps' unit tests on Debian's Groovy 2.4 (the
# Groovy Jenkins runs) with JUnit 4 and a pipeline harness whose `sh` runs the real curl, then
# the integration test against a real inframind-server on loopback (built here, debug profile),
# both also running examples/Jenkinsfile with a real make.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$IM_ROOT"

im_apt_install groovy junit4 curl make || true
missing=""
for f in /usr/share/java/groovy-all.jar /usr/share/java/junit4.jar /usr/share/java/hamcrest-core.jar; do
  [ -f "$f" ] || missing="$missing $f"
done
for c in java curl make; do
  command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if [ -n "$missing" ]; then
  im_skip "70-jenkins" "missing:$missing (Debian packages groovy, junit4, curl, make and a Java runtime)"
  exit $?
fi
groovy_version="$(java -cp /usr/share/java/groovy-all.jar groovy.ui.GroovyMain -e 'print GroovySystem.version' </dev/null)"
im_log "Groovy $groovy_version, $(curl --version | head -1 | cut -d' ' -f1-2)"
case "$groovy_version" in
  2.4.*) ;;
  *) echo "Groovy $groovy_version: the tests target Groovy 2.4, the version Jenkins runs" >&2; exit 1 ;;
esac

im_log "jenkins: unit tests"
# stdin from /dev/null: nothing here reads it, and a JVM holding a terminal can stall.
jenkins/test/run.sh unit </dev/null

im_log "jenkins: integration test against inframind-server"
bin="${CARGO_TARGET_DIR:-$IM_ROOT/target}/debug/inframind-server"
if ! cargo build -p server-example --locked; then
  im_skip "70-jenkins (integration)" "cargo build -p server-example failed"
  exit $?
fi
if ! "$bin" --help >/dev/null 2>&1; then
  im_skip "70-jenkins (integration)" "$bin does not run"
  exit $?
fi
INFRAMIND_SERVER_BIN="$bin" jenkins/test/run.sh integration </dev/null
