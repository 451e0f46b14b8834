package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/**
 * Recognises the exceptions that must never be swallowed: an abort or a `timeout` step of the
 * build (Jenkins' FlowInterruptedException, a subclass of InterruptedException) and thread
 * interrupts. Matched by class name as well, so the check does not need Jenkins' classes.
 */
class Interrupts implements Serializable {
    private static final long serialVersionUID = 1L

    private static final List<String> NAMES = [
        'org.jenkinsci.plugins.workflow.steps.FlowInterruptedException',
        'java.lang.InterruptedException',
        'java.nio.channels.ClosedByInterruptException',
    ]

    /** The interrupt in `t` or its causes (`t` itself when it is one), or null. */
    @NonCPS
    static Throwable find(Throwable t) {
        Throwable c = t
        int depth = 0
        while (c != null && depth < 16) {
            if (c instanceof InterruptedException) {
                return c
            }
            Class k = c.getClass()
            while (k != null) {
                if (NAMES.contains(k.getName())) {
                    return c
                }
                k = k.getSuperclass()
            }
            if (c.getCause() == c) {
                break
            }
            c = c.getCause()
            depth++
        }
        return null
    }

    /** Whether `t` is the JVM running out of memory or stack: never ours to swallow either. */
    @NonCPS
    static boolean mustRethrow(Throwable t) {
        return t instanceof VirtualMachineError
    }

    /**
     * Whether `t` says that the step `name` does not exist: Jenkins throws
     * `java.lang.NoSuchMethodError: No such DSL method 'name' found among steps`, plain Groovy
     * (and JenkinsPipelineUnit) a MissingMethodException.
     */
    @NonCPS
    static boolean isMissingStep(Throwable t, String name) {
        if (t instanceof MissingMethodException) {
            return ((MissingMethodException) t).getMethod() == name
        }
        if (t instanceof NoSuchMethodError) {
            String m = t.getMessage() ?: ''
            return m.contains("'" + name + "'") || m.contains(name)
        }
        return false
    }
}
