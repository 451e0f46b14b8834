package com.cloudbees.groovy.cps

import java.lang.annotation.ElementType
import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy
import java.lang.annotation.Target

/**
 * TEST STAND-IN for groovy-cps' @NonCPS (same fully qualified name): in Jenkins the real
 * annotation marks methods that run as plain Groovy, outside the continuation-passing transform.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target([ElementType.METHOD, ElementType.CONSTRUCTOR])
@interface NonCPS {
}
