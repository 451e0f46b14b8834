package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * What the three steps share within one build, kept in the build's environment so it survives
 * a controller restart and reaches every stage:
 *
 * - `INFRAMIND_RUN_ID`: the run started on the server (set once it is started);
 * - `INFRAMIND_OFFLINE=1`: the service failed to answer (no answer, 5xx, token rejected), is
 *   not configured, or the run could not be started; every later InfraMind call of this build is
 *   skipped, silently, so a build pays at most one timeout and prints one warning;
 * - `INFRAMIND_COMPLETED`: the status the build was recorded with, once inframindNotify reported it;
 * - `INFRAMIND_TOOL`: the tool named to inframindOptimize, used when a later step has to start
 *   the run itself.
 */
class Session implements Serializable {
    private static final long serialVersionUID = 1L

    final Object script
    final InframindConfig config
    final InframindClient client

    /** The session of the build `script` runs in, configured from `args` and the environment. */
    Session(Object script, Map args) {
        this.script = script
        this.config = InframindConfig.resolve(args, script.env)
        this.client = new InframindClient(script, config)
    }

    /** Whether an earlier step found the service down or unconfigured. */
    @NonCPS
    boolean isOffline() {
        return script.env.INFRAMIND_OFFLINE == '1'
    }

    /** Marks the service as down for the rest of the build. */
    @NonCPS
    void markOffline() {
        script.env.INFRAMIND_OFFLINE = '1'
    }

    /** The pipeline name: the `pipeline:` argument, else JOB_NAME. */
    @NonCPS
    String pipeline(Map args) {
        Object p = args?.pipeline ?: script.env.JOB_NAME
        return p ? p.toString() : 'jenkins'
    }

    /** The run id of this build: the started one, else the one derived from JOB_NAME and BUILD_NUMBER. */
    @NonCPS
    String runId() {
        Object started = script.env.INFRAMIND_RUN_ID
        if (started) {
            return started.toString()
        }
        return RunIds.derive(script.env.JOB_NAME as String, script.env.BUILD_NUMBER as String)
    }

    /**
     * The run id of a started run, starting it first when no step did yet (a build that uses
     * inframindStage or inframindNotify without inframindOptimize). Null with `failure` set
     * when the start failed.
     */
    Map ensureRun(Map args) {
        Object started = script.env.INFRAMIND_RUN_ID
        if (started) {
            return [runId: started.toString()]
        }
        String id = runId()
        Map body = [pipeline: pipeline(args), tool: toolOf(args), run_id: id]
        Reply r = client.post('/builds/start', body)
        if (!r.ok) {
            // Without a run nothing of this build can be recorded: later steps skip (one warning).
            markOffline()
            return [failure: r]
        }
        String answered = r.data.run_id ? r.data.run_id.toString() : id
        script.env.INFRAMIND_RUN_ID = answered
        return [runId: answered]
    }

    @NonCPS
    private String toolOf(Map args) {
        Object t = args?.tool ?: script.env.INFRAMIND_TOOL
        return t ? t.toString() : 'generic'
    }

    /**
     * Prints one warning line; marks the service down when the reply says so. Never mentions
     * the token (the reasons are redacted where they are made).
     */
    void warn(String what, Reply failure) {
        if (failure != null && failure.isServiceDown()) {
            markOffline()
        }
        script.echo('InfraMind: WARNING: ' + Text.oneLine(what + (failure != null ? ': ' + failure.error : ''), 500))
    }
}
