#!/usr/bin/env bash
# Compiles the library (src/) and its tests (test/) with Debian's Groovy 2.4 and runs them with
# JUnit 4. `test/run.sh unit` runs the unit tests, `test/run.sh integration` the test against a
# real inframind-server (INFRAMIND_SERVER_BIN must name the binary), `test/run.sh CLASS...` the
# named test classes. Exits non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
java_bin="${JAVA:-java}"
jars=/usr/share/java
cp_libs="$jars/groovy-all.jar:$jars/junit4.jar:$jars/hamcrest-core.jar"
for j in $jars/groovy-all.jar $jars/junit4.jar $jars/hamcrest-core.jar; do
  [ -f "$j" ] || { echo "missing $j (install the Debian packages groovy and junit4)" >&2; exit 2; }
done
out="$(mktemp -d "${TMPDIR:-/tmp}/inframind-jenkins-test.XXXXXX")"
trap 'rm -rf "$out"' EXIT
cd "$here"
# Groovy 2.4's compiler as a plain Java main: no JAVA_HOME needed.
"$java_bin" -cp "$jars/groovy-all.jar" org.codehaus.groovy.tools.FileSystemCompiler \
  -cp "$cp_libs" -d "$out/classes" $(find src test -name '*.groovy' | sort)

unit=(io.inframind.TextTest io.inframind.RenderTest io.inframind.RunIdsTest io.inframind.InframindConfigTest
      io.inframind.OptimizeStepTest io.inframind.StageStepTest io.inframind.NotifyStepTest
      io.inframind.TokenSecrecyTest io.inframind.ExampleJenkinsfileTest)
case "${1:-unit}" in
  unit) classes=("${unit[@]}") ;;
  integration) classes=(io.inframind.ServerIntegrationTest) ;;
  *) classes=("$@") ;;
esac
export INFRAMIND_JENKINS_DIR="$here"
"$java_bin" -cp "$out/classes:$cp_libs" org.junit.runner.JUnitCore "${classes[@]}"
