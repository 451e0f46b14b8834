package org.jenkinsci.plugins.workflow.steps

/**
 * TEST STAND-IN (Jenkins is not on the test classpath): the same fully qualified name and
 * superclass as workflow-step-api's FlowInterruptedException, thrown by an aborted build.
 */
class FlowInterruptedException extends InterruptedException {
    FlowInterruptedException(String message) {
        super(message)
    }
}
