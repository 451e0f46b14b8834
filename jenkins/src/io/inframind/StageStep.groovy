package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * `inframindStage(name: 'compile') { ... }`: runs the body, times it, and reports it to
 * `/builds/step` in a `finally`. The body's result is returned and its exception propagates
 * unchanged (the same object); reporting never fails the stage: a problem is one warning line.
 * The build's own interrupts are rethrown, except while a body exception is already on its
 * way (that exception wins, the abort stops the next step).
 */
class StageStep implements Serializable {
    private static final long serialVersionUID = 1L

    private final Object script

    /** The step for the pipeline `script` (the steps object). */
    StageStep(Object script) {
        this.script = script
    }

    /** Runs `body` as the step `name:` (default: the stage's name). */
    Object run(Map args, Closure body) {
        Map a = args ?: [:]
        String name = stepName(a)
        long started = System.currentTimeMillis()
        boolean failed = false
        boolean interrupted = false
        try {
            return body.call()
        } catch (Throwable t) {
            failed = true
            interrupted = Interrupts.find(t) != null
            throw t
        } finally {
            double seconds = Math.max(0L, System.currentTimeMillis() - started) / 1000.0d
            String status = failed ? (interrupted ? 'cancelled' : 'failure') : 'success'
            report(a, name, seconds, status, failed)
        }
    }

    /** Reports the step; throws only an interrupt, and only when the body did not fail. */
    void report(Map a, String name, double seconds, String status, boolean bodyFailed) {
        try {
            Session session = new Session(script, a)
            if (session.isOffline() || session.config.problem != null) {
                // Optimize already warned (or there is nothing configured): stay silent.
                return
            }
            Map run = session.ensureRun(a)
            if (run.failure != null) {
                session.warn("reporting step '" + name + "' failed, the stage is not affected", (Reply) run.failure)
                return
            }
            Map body = [run_id: run.runId, name: name, duration_s: seconds, status: status]
            if (a.metrics instanceof Map) {
                body.putAll(metricsOf((Map) a.metrics))
            }
            Reply r = session.client.post('/builds/step', body)
            if (!r.ok) {
                session.warn("reporting step '" + name + "' failed, the stage is not affected", r)
            }
        } catch (Throwable t) {
            Throwable i = Interrupts.find(t)
            if (i != null) {
                if (!bodyFailed) {
                    throw i
                }
                return
            }
            if (Interrupts.mustRethrow(t) && !bodyFailed) {
                throw t
            }
            try {
                script.echo('InfraMind: WARNING: reporting step failed, the stage is not affected: ' + Text.describe(t))
            } catch (Throwable ignored) {
                // Even the warning could not be printed; the stage still must not fail because of us.
                return
            }
        }
    }

    @NonCPS
    private String stepName(Map a) {
        Object n = a.name ?: script.env.STAGE_NAME
        return n ? n.toString() : 'step'
    }

    /** The optional metrics of /builds/step that the caller measured, numbers only. */
    @NonCPS
    private static Map metricsOf(Map m) {
        List<String> known = ['max_rss_bytes', 'cpu_seconds', 'io_read_bytes', 'io_write_bytes', 'cache_hits', 'cache_misses']
        Map out = new LinkedHashMap()
        for (String k : known) {
            if (m.get(k) instanceof Number) {
                out.put(k, m.get(k))
            }
        }
        return out
    }
}
