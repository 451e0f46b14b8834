package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * `inframindNotify()` (in `post { always { ... } }`): reports the build's completion with its
 * status (from currentBuild.currentResult) and duration. For a failed build it sends the tail
 * of the log and prints the server's classification of the failure and the remediation.
 * Never fails the build: problems are one warning line; interrupts are rethrown. A build is
 * reported once: a second inframindNotify in the same build (after a successful one) sends
 * nothing and returns `[run_id: ..., status: ..., already_reported: true]`.
 */
class NotifyStep implements Serializable {
    private static final long serialVersionUID = 1L

    /** Lines of log sent for a failed build unless `logLines:` says otherwise. */
    static final int DEFAULT_LOG_LINES = 200
    /** Characters of log sent at most (the end of it is kept). */
    static final int MAX_LOG_CHARS = 64 * 1024

    private final Object script

    /** The step for the pipeline `script` (the steps object). */
    NotifyStep(Object script) {
        this.script = script
    }

    /** The API status of a Jenkins result; unknown results count as failure. */
    @NonCPS
    static String statusOf(String result) {
        switch (result ?: 'SUCCESS') {
            case 'SUCCESS':
                return 'success'
            case 'FAILURE':
            case 'UNSTABLE':
                return 'failure'
            case 'ABORTED':
            case 'NOT_BUILT':
                return 'cancelled'
            default:
                return 'failure'
        }
    }

    /** Runs the step; returns the server's answer, or null when nothing was recorded. */
    Map run(Map args) {
        Map a = args ?: [:]
        try {
            return report(a)
        } catch (Throwable t) {
            Throwable i = Interrupts.find(t)
            if (i != null) {
                throw i
            }
            if (Interrupts.mustRethrow(t)) {
                throw t
            }
            script.echo('InfraMind: WARNING: reporting the build failed, the build is not affected: ' + Text.describe(t))
            return null
        }
    }

    private Map report(Map a) {
        Session session = new Session(script, a)
        if (session.isOffline()) {
            return null
        }
        if (session.config.problem != null) {
            session.markOffline()
            script.echo('InfraMind: WARNING: the build is not reported (' + session.config.problem + ')')
            return null
        }
        String result = a.result ? a.result.toString() : currentResult()
        String status = statusOf(result)
        double seconds = a.duration_s instanceof Number ? ((Number) a.duration_s).doubleValue() : buildSeconds()
        Object already = script.env.INFRAMIND_COMPLETED
        if (already) {
            // The server compares a repeated completion with the first one, log tail and duration
            // included, and both have grown since: a second report would be a conflict. Once is enough.
            return [run_id: session.runId(), status: already.toString(), already_reported: true]
        }
        Map run = session.ensureRun(a)
        if (run.failure != null) {
            session.warn('reporting the build failed, the build is not affected', (Reply) run.failure)
            return null
        }
        Map body = [run_id: run.runId, status: status, duration_s: seconds]
        if (status == 'failure') {
            String tail = logTail(a)
            if (tail) {
                body.log_tail = tail
            }
        }
        Reply r = session.client.post('/builds/complete', body)
        if (!r.ok) {
            session.warn('reporting the build failed, the build is not affected', r)
            return null
        }
        script.env.INFRAMIND_COMPLETED = (r.data.status ?: status).toString()
        script.echo(Render.completion(r.data, status, seconds).join('\n'))
        return r.data
    }

    @NonCPS
    private String currentResult() {
        Object b = script.currentBuild
        Object r = b == null ? null : b.currentResult
        return r == null ? 'SUCCESS' : r.toString()
    }

    /** Seconds since the build started (currentBuild.startTimeInMillis), else currentBuild.duration. */
    @NonCPS
    private double buildSeconds() {
        Object b = script.currentBuild
        if (b == null) {
            return 0d
        }
        Object start = b.startTimeInMillis
        if (start instanceof Number && ((Number) start).longValue() > 0) {
            return Math.max(0L, System.currentTimeMillis() - ((Number) start).longValue()) / 1000.0d
        }
        Object d = b.duration
        return d instanceof Number ? ((Number) d).doubleValue() / 1000.0d : 0d
    }

    /**
     * The log tail to send: the `logTail:` argument when given, else the last `logLines:` lines
     * of the build log through currentBuild.rawBuild.getLog(N) (refused in the Groovy sandbox:
     * then nothing), cut to the last 64 KiB, with the token (if known) masked.
     */
    private String logTail(Map a) {
        String tail = null
        if (a.logTail != null) {
            tail = a.logTail.toString()
        } else {
            int n = a.logLines instanceof Number ? ((Number) a.logLines).intValue() : DEFAULT_LOG_LINES
            try {
                tail = rawLog(Math.max(1, Math.min(n, 10000)))
            } catch (Throwable t) {
                Throwable i = Interrupts.find(t)
                if (i != null) {
                    throw i
                }
                // The sandbox rejected rawBuild (RejectedAccessException), or there is no log.
                tail = null
            }
        }
        return tail == null || tail.isEmpty() ? null : masked(Text.tail(tail, MAX_LOG_CHARS))
    }

    @NonCPS
    private String rawLog(int lines) {
        Object log = script.currentBuild.rawBuild.getLog(lines)
        if (log instanceof List) {
            return ((List) log).join('\n')
        }
        return log == null ? null : log.toString()
    }

    @NonCPS
    private String masked(String s) {
        Object token = script.env."${InframindConfig.TOKEN_VAR}"
        return Text.redact(s, token == null ? null : token.toString())
    }
}
