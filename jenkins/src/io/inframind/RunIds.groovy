package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * The run id of a Jenkins build: `jenkins-<job slug>-<hash of the job name>-<build number>`.
 * The same job and build number always give the same id, so a retried step (the `retry`
 * step, a restarted controller) starts the same run again, which the server answers
 * idempotently. The hash keeps `team/app` and `team-app` apart although their slugs agree.
 */
class RunIds implements Serializable {
    private static final long serialVersionUID = 1L

    /** The run id for `jobName` and `buildNumber` (see the class docs). */
    @NonCPS
    static String derive(String jobName, String buildNumber) {
        String job = jobName ?: 'unknown-job'
        String slug = job.toLowerCase().replaceAll('[^a-z0-9._]+', '-').replaceAll('^-+|-+$', '')
        if (slug.length() > 60) {
            slug = slug.substring(0, 60).replaceAll('-+$', '')
        }
        if (slug.isEmpty()) {
            slug = 'job'
        }
        // Without a build number there is nothing stable to key on: a unique id, not idempotent.
        String build = buildNumber ?: ('t' + System.currentTimeMillis())
        return 'jenkins-' + slug + '-' + hex8(fnv1a(job)) + '-' + build.replaceAll('[^A-Za-z0-9._-]+', '-')
    }

    /** A seed for /optimize derived from the run id: a retry of the same build gets the same suggestion. */
    @NonCPS
    static long seed(String runId) {
        return fnv1a(runId ?: '') & 0x7fffffffL
    }

    /** 32-bit FNV-1a of the UTF-8 bytes of `s`. */
    @NonCPS
    static long fnv1a(String s) {
        long h = 0x811c9dc5L
        byte[] bytes = s.getBytes('UTF-8')
        for (int i = 0; i < bytes.length; i++) {
            h = h ^ (bytes[i] & 0xff)
            h = (h * 0x01000193L) & 0xffffffffL
        }
        return h
    }

    @NonCPS
    private static String hex8(long v) {
        String h = Long.toHexString(v)
        while (h.length() < 8) {
            h = '0' + h
        }
        return h
    }
}
