package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * Sends JSON to the InfraMind server from a pipeline. It never throws, except the build's own
 * interrupts (an abort, a `timeout` step), which it always rethrows: every other problem
 * becomes a failed Reply with a one-line reason that never contains the token.
 *
 * Transport: the `httpRequest` step (HTTP Request plugin) when it is installed (and the token
 * does not come from a credentials ID, see usesHttpRequest), with
 * `validResponseCodes: '100:599'`, its own `timeout`, `quiet: true` and the token in a masked
 * header; otherwise `sh` running curl with `--max-time`, where the shell pipes the token from
 * `$INFRAMIND_TOKEN` into curl's config on stdin, so it is neither in the script text, nor on
 * any command line, nor on disk (and the script starts with #!, so it runs without `set -x`).
 */
class InframindClient implements Serializable {
    private static final long serialVersionUID = 1L

    private final Object script
    private final InframindConfig config
    private boolean noHttpRequestStep = false

    /** A client for the pipeline `script` (the steps object) with `config`. */
    InframindClient(Object script, InframindConfig config) {
        this.script = script
        this.config = config
    }

    /** POSTs `body` as JSON to `path` (e.g. `/optimize`). */
    Reply post(String path, Map body) {
        if (config.url == null) {
            return Reply.failed(path, 0, config.problem ?: 'no server configured')
        }
        String json
        try {
            json = Json.write(body)
        } catch (Throwable t) {
            Throwable i = Interrupts.find(t)
            if (i != null) {
                throw i
            }
            return Reply.failed(path, 0, 'cannot render the request as JSON: ' + Text.describe(t))
        }
        try {
            if (config.credentialsId != null) {
                return script.withCredentials([script.string(credentialsId: config.credentialsId,
                        variable: InframindConfig.TOKEN_VAR)]) {
                    return send(path, json)
                }
            }
            return send(path, json)
        } catch (Throwable t) {
            Throwable i = Interrupts.find(t)
            if (i != null) {
                throw i
            }
            if (Interrupts.mustRethrow(t)) {
                throw t
            }
            // withCredentials failed: an unknown ID or the wrong credentials kind.
            return Reply.failed(path, 0, 'credentials "' + config.credentialsId + '": ' + redacted(Text.describe(t)))
        }
    }

    // Not private: it is called from the withCredentials closure (CPS closures reach only
    // non-private methods reliably).
    Reply send(String path, String json) {
        if (usesHttpRequest() && !noHttpRequestStep) {
            try {
                return viaHttpRequest(path, json)
            } catch (Throwable t) {
                Throwable i = Interrupts.find(t)
                if (i != null) {
                    throw i
                }
                if (Interrupts.mustRethrow(t)) {
                    throw t
                }
                if (!Interrupts.isMissingStep(t, 'httpRequest')) {
                    return Reply.failed(path, 0, 'POST ' + path + ': ' + redacted(Text.describe(t)))
                }
                if (config.transport == 'httpRequest') {
                    return Reply.failed(path, 0, 'transport httpRequest asked for, but the HTTP Request plugin is not installed')
                }
                noHttpRequestStep = true
            }
        }
        try {
            String out = script.sh(script: curlScript(path, json), returnStdout: true,
                    label: 'InfraMind POST ' + path)
            return Reply.fromCurl(path, redacted(out), config.timeoutS)
        } catch (Throwable t) {
            Throwable i = Interrupts.find(t)
            if (i != null) {
                throw i
            }
            if (Interrupts.mustRethrow(t)) {
                throw t
            }
            return Reply.failed(path, 0, 'POST ' + path + ' via curl: ' + redacted(Text.describe(t)))
        }
    }

    /**
     * Whether to try the httpRequest step: when asked to, or in `auto` mode unless the token
     * comes from a credentials ID. A value bound by withCredentials that appears in a step's
     * arguments (the token header) makes Jenkins print "A secret was passed to httpRequest using
     * Groovy String interpolation" on every request; curl reads it from the environment instead.
     */
    @NonCPS
    boolean usesHttpRequest() {
        return config.transport == 'httpRequest' || (config.transport == 'auto' && config.credentialsId == null)
    }

    private Reply viaHttpRequest(String path, String json) {
        Object response = script.httpRequest(
                url: config.url + path,
                httpMode: 'POST',
                contentType: 'APPLICATION_JSON',
                acceptType: 'APPLICATION_JSON',
                requestBody: json,
                customHeaders: tokenHeaders(),
                validResponseCodes: '100:599',
                timeout: config.timeoutS,
                consoleLogResponseBody: false,
                quiet: true)
        return Reply.fromHttp(path, response.status as int, redacted(response.content as String))
    }

    /** The token header for httpRequest, read from the environment at the last moment. */
    @NonCPS
    private List tokenHeaders() {
        Object token = script.env."${InframindConfig.TOKEN_VAR}"
        if (token == null || token.toString().isEmpty()) {
            return []
        }
        return [[name: 'X-IM-Token', value: token.toString(), maskValue: true]]
    }

    @NonCPS
    private String redacted(String s) {
        Object token = script.env."${InframindConfig.TOKEN_VAR}"
        return Text.redact(s, token == null ? null : token.toString())
    }

    /**
     * The `sh` script that POSTs `json` with curl. Its output is four parts: curl's exit code,
     * the HTTP status, curl's error message on one line, then the body. It always exits 0, and
     * curl's messages go to a file, so nothing reaches the build log. The token goes from
     * `$INFRAMIND_TOKEN` through the shell's builtin printf into curl's config on stdin
     * (`-K -`): never in this script, on a command line or on disk. The body (not secret) is a
     * private temporary file.
     */
    @NonCPS
    String curlScript(String path, String json) {
        String url = quote(config.url + path)
        int t = config.timeoutS
        String v = InframindConfig.TOKEN_VAR
        return """#!/bin/sh
# InfraMind: POST ${path}. The token is read from \$${v} by the shell: it is never
# in this script, on a command line or in a file.
umask 077
d=\$(mktemp -d "\${TMPDIR:-/tmp}/inframind.XXXXXX" 2>/dev/null) || { printf '90\\n000\\ncannot create a temporary folder\\n'; exit 0; }
trap 'rm -rf "\$d"' EXIT
trap 'exit 143' HUP INT TERM
cat > "\$d/body" <<'INFRAMIND_JSON'
${json}
INFRAMIND_JSON
nl='
'
case "\${${v}:-}" in
  *'"'*|*'\\'*|*"\$nl"*) printf '91\\n000\\nthe token contains a quote, a backslash or a line break\\n'; exit 0 ;;
esac
if [ -n "\${${v}:-}" ]; then
  printf 'header = "X-IM-Token: %s"\\n' "\$${v}"
fi | curl -sS -K - --connect-timeout ${t} --max-time ${t} -X POST \\
  -H 'Content-Type: application/json' -H 'Accept: application/json' \\
  --data-binary @"\$d/body" -o "\$d/out" -w '%{http_code}' ${url} > "\$d/code" 2> "\$d/err"
rc=\$?
printf '%s\\n%s\\n' "\$rc" "\$(cat "\$d/code" 2>/dev/null)"
printf '%s\\n' "\$(tr '\\r\\n' '  ' < "\$d/err" | cut -c1-300)"
cat "\$d/out" 2>/dev/null
exit 0
"""
    }

    /** `s` single-quoted for sh. */
    @NonCPS
    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'"
    }
}
