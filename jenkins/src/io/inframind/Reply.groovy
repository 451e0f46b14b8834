package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/** The outcome of one request: the parsed JSON object, or an error that says what went wrong. */
class Reply implements Serializable {
    private static final long serialVersionUID = 1L

    /** The route, e.g. `/optimize`. */
    String path
    /** HTTP status, 0 when no answer arrived (refused, timed out, no curl...). */
    int status
    /** The answer's JSON object when the request succeeded. */
    Map data
    /** One line saying why the request failed, or null on success. */
    String error

    /** Whether the request succeeded with a JSON object. */
    @NonCPS
    boolean isOk() {
        return error == null
    }

    /**
     * Whether the failure means the service is unusable for the rest of this build (no answer,
     * a 5xx, or a rejected token), so later steps should not try again.
     */
    @NonCPS
    boolean isServiceDown() {
        return error != null && (status == 0 || status >= 500 || status == 401 || status == 403)
    }

    /** A request that got no usable answer. */
    @NonCPS
    static Reply failed(String path, int status, String why) {
        return new Reply(path: path, status: status, error: Text.oneLine(why, 300))
    }

    /** Interprets an HTTP answer: a 2xx with a JSON object is a success, anything else an error. */
    @NonCPS
    static Reply fromHttp(String path, int status, String content) {
        String body = content ?: ''
        if (status >= 200 && status < 300) {
            Object parsed
            try {
                parsed = Json.parse(body)
            } catch (Exception e) {
                return failed(path, status, 'POST ' + path + ' answered ' + status + ' with malformed JSON ("' +
                        Text.oneLine(body, 60) + '")')
            }
            if (!(parsed instanceof Map)) {
                return failed(path, status, 'POST ' + path + ' answered ' + status + ' with JSON that is not an object')
            }
            return new Reply(path: path, status: status, data: (Map) parsed)
        }
        String detail = null
        try {
            Object parsed = Json.parse(body)
            if (parsed instanceof Map && parsed.error instanceof Map) {
                Map e = (Map) parsed.error
                detail = (e.code ?: 'error') + ': ' + (e.message ?: '') + (e.field ? ' (field ' + e.field + ')' : '')
            }
        } catch (Exception ignored) {
            detail = null
        }
        if (detail == null) {
            detail = body.trim().isEmpty() ? 'empty body' : 'body "' + Text.oneLine(body, 80) + '"'
        }
        return failed(path, status, 'POST ' + path + ' answered HTTP ' + status + ' ' + detail)
    }

    /**
     * Interprets the output of the curl script (see InframindClient): the curl exit code, the
     * HTTP status, curl's error message, then the body.
     */
    @NonCPS
    static Reply fromCurl(String path, String output, int timeoutS) {
        String out = output ?: ''
        String[] parts = out.split('\n', 4)
        if (parts.length < 3 || !(parts[0].trim() ==~ /\d+/)) {
            return failed(path, 0, 'POST ' + path + ': unexpected output from the curl script ("' + Text.oneLine(out, 60) + '")')
        }
        int rc = Integer.parseInt(parts[0].trim())
        String codeText = parts[1].trim()
        int code = codeText ==~ /\d{3}/ ? Integer.parseInt(codeText) : 0
        String err = parts[2].trim()
        String body = parts.length > 3 ? parts[3] : ''
        if (rc != 0) {
            String why
            if (rc == 90 || rc == 91) {
                // The script's own refusals (no temporary folder, an unusable token): the message says it.
                return failed(path, 0, 'POST ' + path + ': ' + (err ?: 'the curl script failed'))
            } else if (rc == 28) {
                why = 'no answer within ' + timeoutS + ' s'
            } else if (rc == 7) {
                why = 'connection refused'
            } else if (rc == 6) {
                why = 'unknown host'
            } else if (rc == 127) {
                why = 'curl is not installed on this agent'
            } else {
                why = 'curl exit code ' + rc
            }
            return failed(path, 0, 'POST ' + path + ': ' + why + (err ? ' (' + err + ')' : ''))
        }
        if (code == 0) {
            return failed(path, 0, 'POST ' + path + ': no HTTP status from curl' + (err ? ' (' + err + ')' : ''))
        }
        return fromHttp(path, code, body)
    }
}
