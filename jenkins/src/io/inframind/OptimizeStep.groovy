package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * `inframindOptimize(params: [tool: 'cmake', ...])`: asks the server for the fastest safe
 * configuration of this build, exports it as environment variables, starts the run, prints the
 * rationale and returns the suggestion map.
 *
 * Order: `/optimize` first, then `/builds/start` with the suggested config, so the run is
 * recorded with the configuration it actually runs with (the model learns from that). The
 * seed of `/optimize` is derived from the run id: a retried step gets the same suggestion and
 * starts the same run again (idempotent on the server).
 *
 * Fail-open: without a server, on any error, or after the timeout, it prints ONE warning line,
 * exports `INFRAMIND_FALLBACK=1` plus the caller's `fallback:` map (nothing else), and returns
 * `[fallback: true, reason: '...', env: [...]]`.
 */
class OptimizeStep implements Serializable {
    private static final long serialVersionUID = 1L

    private final Object script

    /** The step for the pipeline `script` (the steps object). */
    OptimizeStep(Object script) {
        this.script = script
    }

    /** Runs the step (see the class docs). */
    Map run(Map args) {
        Map a = args ?: [:]
        Session session = new Session(script, a)
        Map context = contextOf(a)
        script.env.INFRAMIND_TOOL = context.tool
        if (session.config.problem != null) {
            return fallback(session, a, session.config.problem, true)
        }
        if (session.isOffline()) {
            return fallback(session, a, 'the service did not answer earlier in this build', false)
        }
        String pipeline = session.pipeline(a)
        String runId = session.runId()
        Map request = [pipeline: pipeline, context: context, seed: a.seed != null ? a.seed : RunIds.seed(runId)]
        Reply answer = session.client.post('/optimize', request)
        if (!answer.ok) {
            return fallback(session, a, answer.error, answer.isServiceDown())
        }
        Map suggestion = answer.data
        Map env = Render.envOf(suggestion)
        if (env == null) {
            return fallback(session, a, 'the /optimize answer has neither "env" nor "config"', false)
        }
        Map exports = Render.serverExports(env)
        export((List) exports.accepted)
        if (script.env.INFRAMIND_FALLBACK != null) {
            script.env.INFRAMIND_FALLBACK = '0'
        }
        List<String> lines = Render.suggestion(pipeline, suggestion, (List) exports.accepted, (List) exports.refused)

        Map start = [pipeline: pipeline, tool: context.tool, run_id: runId]
        Object config = a.config instanceof Map ? a.config : suggestion.config
        if (config instanceof Map) {
            start.config = config
        }
        Map labels = labelsOf(a)
        if (!labels.isEmpty()) {
            start.labels = labels
        }
        Reply started = session.client.post('/builds/start', start)
        if (started.ok) {
            script.env.INFRAMIND_RUN_ID = started.data.run_id ? started.data.run_id.toString() : runId
            lines.add('  run: ' + script.env.INFRAMIND_RUN_ID)
        } else {
            // Without a started run nothing else of this build can be recorded: later steps skip.
            session.markOffline()
            lines.add('InfraMind: WARNING: starting the run failed, steps of this build are not recorded: ' +
                    started.error)
        }
        script.echo(lines.join('\n'))
        return suggestion
    }

    private Map fallback(Session session, Map a, String reason, boolean offline) {
        if (offline) {
            session.markOffline()
        }
        Map given = a.fallback instanceof Map ? (Map) a.fallback : [:]
        Map exports = Render.safeExports(given)
        export((List) exports.accepted)
        script.env.INFRAMIND_FALLBACK = '1'
        String what = ((List) exports.accepted).isEmpty() ?
                "the build's own defaults" :
                'the fallback ' + names((List) exports.accepted)
        script.echo('InfraMind: WARNING: no suggestion (' + Text.oneLine(reason, 400) + '); continuing with ' + what)
        return [fallback: true, reason: reason, env: exportedMap((List) exports.accepted)]
    }

    // A plain indexed loop over a list: no iterator is alive across the CPS boundary. The env is
    // written as a property (`env."${name}" = v`), the form the Groovy sandbox allows.
    private void export(List pairs) {
        for (int i = 0; i < pairs.size(); i++) {
            List kv = (List) pairs.get(i)
            String name = (String) kv.get(0)
            script.env."${name}" = (String) kv.get(1)
        }
    }

    /** The /optimize context: the `params:` map, with `tool` as a string ('generic' when absent). */
    @NonCPS
    private static Map contextOf(Map a) {
        Map context = new LinkedHashMap()
        if (a.params instanceof Map) {
            context.putAll((Map) a.params)
        }
        Object tool = context.tool ?: a.tool
        context.tool = tool ? tool.toString() : 'generic'
        return context
    }

    /** The run's labels: `labels:` plus the branch when Jenkins knows it. */
    @NonCPS
    private Map labelsOf(Map a) {
        Map labels = new LinkedHashMap()
        Object branch = script.env.BRANCH_NAME
        if (branch) {
            labels.branch = branch.toString()
        }
        if (a.labels instanceof Map) {
            for (Object k : ((Map) a.labels).keySet()) {
                labels.put(k.toString(), ((Map) a.labels).get(k)?.toString())
            }
        }
        return labels
    }

    @NonCPS
    private static String names(List pairs) {
        List<String> out = []
        for (Object kv : pairs) {
            out.add(((List) kv).get(0).toString() + '=' + ((List) kv).get(1))
        }
        return out.join(' ')
    }

    @NonCPS
    private static Map exportedMap(List pairs) {
        Map out = new LinkedHashMap()
        for (Object kv : pairs) {
            out.put(((List) kv).get(0), ((List) kv).get(1))
        }
        return out
    }
}
