package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * Where the InfraMind server is and how to reach it. Each setting comes from the step's
 * argument first, then from the build's environment:
 *
 * | argument        | environment                 | default                          |
 * |-----------------|-----------------------------|----------------------------------|
 * | `url:`          | `INFRAMIND_URL`             | none: the steps do nothing       |
 * | `credentialsId:`| `INFRAMIND_CREDENTIALS_ID`  | none: the token is `INFRAMIND_TOKEN` |
 * | `timeout:`      | `INFRAMIND_TIMEOUT`         | 5 seconds per request (1 to 120) |
 * | `transport:`    | `INFRAMIND_TRANSPORT`       | `auto`: httpRequest, else curl   |
 *
 * The token itself is never a field here: it is read from the environment at the moment a
 * request is sent (inside `withCredentials` when a credentials ID is configured), so it is not
 * kept in the pipeline's serialized state.
 */
class InframindConfig implements Serializable {
    private static final long serialVersionUID = 1L

    /** Seconds a request may take when nothing else is configured. */
    static final int DEFAULT_TIMEOUT_S = 5
    /** The environment variable that holds the API token during a request. */
    static final String TOKEN_VAR = 'INFRAMIND_TOKEN'

    /** Base URL without a trailing slash, or null when not configured or invalid. */
    String url
    /** Jenkins credentials ID (Secret text) of the token, or null. */
    String credentialsId
    /** Seconds each request may take, connection included. */
    int timeoutS = DEFAULT_TIMEOUT_S
    /** `auto`, `httpRequest` or `curl`. */
    String transport = 'auto'
    /** Why the steps cannot talk to a server (no URL, a bad URL), or null. */
    String problem

    /** Resolves the configuration from a step's arguments and the build's environment. */
    @NonCPS
    static InframindConfig resolve(Map args, Object env) {
        Map a = args ?: [:]
        InframindConfig c = new InframindConfig()
        String url = pick(a.url, env, 'INFRAMIND_URL')
        if (url == null) {
            c.problem = 'no server configured (give url: or set INFRAMIND_URL)'
        } else if (!(url ==~ /(?i)https?:\/\/[^\s'"\\`$]+/)) {
            // The URL is not printed: it may carry user:password.
            c.problem = 'the server URL must look like http://host:port or https://host (check url: or INFRAMIND_URL)'
        } else {
            c.url = url.replaceAll('/+$', '')
        }
        c.credentialsId = pick(a.credentialsId, env, 'INFRAMIND_CREDENTIALS_ID')
        c.timeoutS = timeoutOf(pick(a.timeout, env, 'INFRAMIND_TIMEOUT'))
        String t = pick(a.transport, env, 'INFRAMIND_TRANSPORT')
        c.transport = (t == 'curl' || t == 'httpRequest') ? t : 'auto'
        return c
    }

    /** A timeout in whole seconds within 1..120; anything else gives the default. */
    @NonCPS
    static int timeoutOf(String text) {
        if (text == null || !(text ==~ /\d{1,3}/)) {
            return DEFAULT_TIMEOUT_S
        }
        int s = Integer.parseInt(text)
        return (s >= 1 && s <= 120) ? s : DEFAULT_TIMEOUT_S
    }

    @NonCPS
    private static String pick(Object arg, Object env, String name) {
        Object v = arg
        if (v == null || v.toString().trim().isEmpty()) {
            v = env == null ? null : env."${name}"
        }
        if (v == null || v.toString().trim().isEmpty()) {
            return null
        }
        return v.toString().trim()
    }
}
