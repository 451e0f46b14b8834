package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/** What the steps print, and which of the server's variables they export. Pure functions. */
class Render implements Serializable {
    private static final long serialVersionUID = 1L

    /** Names the server may never set: they would change how the agent, the shell or Jenkins behave. */
    static final List<String> RESERVED = [
        'PATH', 'HOME', 'SHELL', 'USER', 'LOGNAME', 'PWD', 'IFS', 'ENV', 'BASH_ENV', 'PS4', 'CDPATH',
        'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'JAVA_TOOL_OPTIONS', 'WORKSPACE', 'NODE_NAME',
        'INFRAMIND_TOKEN', 'INFRAMIND_URL', 'INFRAMIND_CREDENTIALS_ID', 'INFRAMIND_RUN_ID',
        'INFRAMIND_OFFLINE', 'INFRAMIND_FALLBACK', 'INFRAMIND_COMPLETED', 'INFRAMIND_TIMEOUT', 'INFRAMIND_TRANSPORT', 'INFRAMIND_TOOL',
    ]
    static final List<String> RESERVED_PREFIXES = ['JENKINS_', 'BUILD_', 'JOB_', 'DYLD_', 'GIT_', 'HUDSON_']

    /**
     * The only variables an /optimize answer may set, each with the shape of its value: exactly
     * what the core's `tool_env` emits (a Rust test checks every tool's variables against this
     * list). Anything else from the wire (NODE_OPTIONS, _JAVA_OPTIONS, PERL5OPT, a GRADLE_OPTS
     * with a -javaagent...) is refused, so a man in the middle on http:// cannot inject code.
     */
    static final Map<String, String> SERVER_VARIABLES = [
        'INFRAMIND_CONCURRENCY'     : /[0-9]{1,6}/,
        'INFRAMIND_CPU_CORES'       : /[0-9]{1,6}(\.[0-9]{1,3})?/,
        'INFRAMIND_MEMORY_MB'       : /[0-9]{1,12}/,
        'MAKEFLAGS'                 : /-j[0-9]{1,6}/,
        'CMAKE_BUILD_PARALLEL_LEVEL': /[0-9]{1,6}/,
        'CARGO_BUILD_JOBS'          : /[0-9]{1,6}/,
        'npm_config_jobs'           : /[0-9]{1,6}/,
        'GRADLE_OPTS'               : /-Dorg\.gradle\.workers\.max=[0-9]{1,6} -Dorg\.gradle\.jvmargs=-Xmx[0-9]{1,12}m/,
        'MAVEN_ARGS'                : /-T [0-9]{1,6}/,
        'INFRAMIND_BAZEL_FLAGS'     : /--jobs=[0-9]{1,6} --local_cpu_resources=[0-9]{1,6}(\.[0-9]{1,3})? --local_ram_resources=[0-9]{1,12}/,
        'GOFLAGS'                   : /-p=[0-9]{1,6}/,
        'GOMAXPROCS'                : /[0-9]{1,6}/,
    ]

    /**
     * [safeExports] for variables that came from the server: only [SERVER_VARIABLES], each with
     * a value of its shape.
     */
    @NonCPS
    static Map serverExports(Map env) {
        Map checked = safeExports(env)
        List<List<String>> accepted = []
        List<String> refused = new ArrayList<String>((List<String>) checked.refused)
        for (List<String> pair : (List<List<String>>) checked.accepted) {
            String pattern = SERVER_VARIABLES.get(pair[0])
            if (pattern != null && pair[1] ==~ pattern) {
                accepted.add(pair)
            } else {
                refused.add(Text.oneLine(pair[0], 40))
            }
        }
        Collections.sort(refused)
        return [accepted: accepted, refused: refused]
    }

    /**
     * The variables to export from a suggestion: its `env` map as the server computed it, or,
     * when the answer has none, the three INFRAMIND_* variables from its `config`. Null when
     * the answer has neither.
     */
    @NonCPS
    static Map<String, Object> envOf(Map suggestion) {
        if (suggestion.env instanceof Map) {
            return new LinkedHashMap((Map) suggestion.env)
        }
        if (!(suggestion.config instanceof Map)) {
            return null
        }
        Map c = (Map) suggestion.config
        Map<String, Object> env = new LinkedHashMap<String, Object>()
        if (c.concurrency instanceof Number) {
            env.INFRAMIND_CONCURRENCY = Text.num(c.concurrency, 0)
        }
        if (c.cpu_cores instanceof Number) {
            env.INFRAMIND_CPU_CORES = Text.num(c.cpu_cores, 3)
        }
        if (c.memory_bytes instanceof Number) {
            env.INFRAMIND_MEMORY_MB = (new BigDecimal(c.memory_bytes.toString())
                    .divideToIntegralValue(new BigDecimal(1048576))).toBigInteger().toString()
        }
        return env.isEmpty() ? null : env
    }

    /**
     * Splits `env` into the variables that may be exported (name and value as strings, in
     * order) and the names refused: not a variable name, reserved, or a value that is not a
     * single line of at most 4096 characters.
     */
    @NonCPS
    static Map safeExports(Map env) {
        List<List<String>> accepted = []
        List<String> refused = []
        if (env == null) {
            return [accepted: accepted, refused: refused]
        }
        // Sorted by name: JSON objects have no order, and the log should not change from run to run.
        List<String> keys = []
        for (Object k : env.keySet()) {
            keys.add(k.toString())
        }
        Collections.sort(keys)
        for (String name : keys) {
            Object k = name
            Object v = env.get(k)
            boolean ok = name ==~ /[A-Za-z_][A-Za-z0-9_]{0,127}/ && !RESERVED.contains(name) &&
                    (v instanceof CharSequence || v instanceof Number || v instanceof Boolean)
            for (String p : RESERVED_PREFIXES) {
                if (name.startsWith(p)) {
                    ok = false
                }
            }
            String value = v == null ? '' : v.toString()
            if (ok && (value.contains('\n') || value.contains('\r') || value.contains('\u0000') || value.length() > 4096)) {
                ok = false
            }
            if (ok) {
                accepted.add([name, value])
            } else {
                refused.add(Text.oneLine(name, 40))
            }
        }
        return [accepted: accepted, refused: refused]
    }

    /** The lines printed after a suggestion: a summary, the rationale, what was exported. */
    @NonCPS
    static List<String> suggestion(String pipeline, Map s, List<List<String>> exported, List<String> refused) {
        List<String> lines = []
        StringBuilder head = new StringBuilder('InfraMind: suggestion for ' + pipeline)
        if (s.model_version) {
            head.append(' (model ').append(s.model_version).append(')')
        }
        if (s.config instanceof Map) {
            Map c = (Map) s.config
            head.append(': ').append(Text.num(c.concurrency, 0)).append(' jobs, ')
                .append(Text.num(c.cpu_cores, 3)).append(' cores, ')
            if (c.memory_bytes instanceof Number) {
                head.append(Text.num(((Number) c.memory_bytes).doubleValue() / 1073741824d, 2)).append(' GiB')
            } else {
                head.append('? GiB')
            }
        }
        if (s.predicted_duration_s instanceof Number) {
            head.append('; predicted ').append(Text.num(s.predicted_duration_s, 0)).append(' s')
            if (s.spread_s instanceof Number) {
                head.append(' +/- ').append(Text.num(s.spread_s, 0)).append(' s')
            }
            if (s.baseline_duration_s instanceof Number) {
                head.append(' against ').append(Text.num(s.baseline_duration_s, 0)).append(' s for the last config')
            }
        }
        if (s.cold_start == true) {
            head.append(' [cold start]')
        }
        if (s.explored == true) {
            head.append(' [exploring]')
        }
        lines.add(head.toString())
        if (s.rationale instanceof List) {
            for (Object r : (List) s.rationale) {
                lines.add('  - ' + Text.oneLine(r, 400))
            }
        }
        StringBuilder ex = new StringBuilder('  exported:')
        for (List<String> kv : exported) {
            ex.append(' ').append(kv[0]).append('=').append(kv[1])
        }
        lines.add(exported.isEmpty() ? '  exported: nothing' : ex.toString())
        if (!refused.isEmpty()) {
            lines.add('  not exported (not a variable InfraMind sets, or an invalid value): ' + refused.join(', '))
        }
        return lines
    }

    /** The lines printed after /builds/complete: the recorded status, then the classification. */
    @NonCPS
    static List<String> completion(Map answer, String sentStatus, Object durationS) {
        List<String> lines = []
        String status = answer.status ?: sentStatus
        lines.add('InfraMind: run ' + (answer.run_id ?: '?') + ' recorded as ' + status + ' after ' +
                Text.num(durationS, 0) + ' s')
        if (answer.classification instanceof Map) {
            Map c = (Map) answer.classification
            String conf = c.confidence instanceof Number ? ' (confidence ' + Text.num(c.confidence, 2) + ')' : ''
            lines.add('InfraMind: failure category: ' + (c.category ?: 'unknown') + conf)
            if (c.evidence instanceof List) {
                for (Object e : (List) c.evidence) {
                    if (e instanceof Map) {
                        lines.add('  evidence, log line ' + (e.line ?: '?') + ': ' + Text.oneLine(e.text, 200))
                    }
                }
            }
            if (c.remediation instanceof Map) {
                lines.add('InfraMind: remediation: ' + remediation((Map) c.remediation))
            }
        }
        return lines
    }

    /** A remediation (inframind_core::healing::Remediation, tagged by `action`) in words. */
    @NonCPS
    static String remediation(Map r) {
        String action = r.action ?: 'unknown'
        String retry = retryText(r.retry)
        switch (action) {
            case 'reduce_concurrency':
                return 'lower the concurrency (x' + Text.num(r.concurrency_factor, 2) + ') and retry' + retry +
                        (r.mark_status ? '; the run is recorded as ' + r.mark_status : '')
            case 'retry':
                return 'retry' + (r.another_agent == true ? ' on another agent' : '') + retry
            case 'clean_and_retry':
                return 'clean ' + (r.clean instanceof List ? ((List) r.clean).join(', ') : 'the workspace') +
                        ', then retry' + retry
            case 'extend_timeout':
                return 'retry with a ' + Text.num(r.timeout_factor, 2) + 'x longer time limit' + retry
            case 'no_retry':
                return 'do not retry: ' + Text.oneLine(r.reason, 300)
            case 'escalate':
                return 'escalate to a person: ' + Text.oneLine(r.reason, 300)
            default:
                List<String> parts = []
                for (Object k : r.keySet()) {
                    if (k != 'action') {
                        parts.add(k.toString() + '=' + Text.oneLine(r.get(k), 80))
                    }
                }
                return action + (parts.isEmpty() ? '' : ' (' + parts.join(', ') + ')')
        }
    }

    @NonCPS
    private static String retryText(Object retry) {
        if (!(retry instanceof Map)) {
            return ''
        }
        Map p = (Map) retry
        String s = ' (at most ' + Text.num(p.max_attempts, 0) + ' attempts'
        if (p.initial_backoff_s instanceof Number) {
            s += ', first after ' + Text.num(p.initial_backoff_s, 1) + ' s'
        }
        return s + ')'
    }
}
