package io.inframind.test

import org.jenkinsci.plugins.scriptsecurity.sandbox.RejectedAccessException

/** Stands in for `currentBuild` (RunWrapper): result, timing and, when allowed, rawBuild. */
class FakeBuild {
    String currentResult = 'SUCCESS'
    String result = null
    long startTimeInMillis = System.currentTimeMillis() - 42000L
    long duration = 0L
    /** The build log, one line per entry; rawBuild.getLog(n) returns its last n lines. */
    List<String> logLines = []
    /** Whether rawBuild is refused, as the Groovy sandbox does for a library that is not trusted. */
    boolean sandboxed = false

    Object getRawBuild() {
        if (sandboxed) {
            throw new RejectedAccessException('method org.jenkinsci.plugins.workflow.support.steps.build.RunWrapper getRawBuild')
        }
        List<String> lines = logLines
        return [getLog: { int n -> lines.size() <= n ? new ArrayList<String>(lines) : new ArrayList<String>(lines.subList(lines.size() - n, lines.size())) }] as RawBuild
    }

    /** The one method of hudson.model.Run the library uses. */
    static interface RawBuild {
        List<String> getLog(int maxLines)
    }
}
