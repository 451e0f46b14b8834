package org.jenkinsci.plugins.scriptsecurity.sandbox

/** TEST STAND-IN for script-security's exception when the Groovy sandbox refuses a call. */
class RejectedAccessException extends SecurityException {
    RejectedAccessException(String signature) {
        super('Scripts not permitted to use ' + signature)
    }
}
