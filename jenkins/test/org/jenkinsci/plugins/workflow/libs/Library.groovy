package org.jenkinsci.plugins.workflow.libs

import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy

/** TEST STAND-IN for `@Library('name') _` (pipeline-groovy-lib), so a Jenkinsfile parses here. */
@Retention(RetentionPolicy.SOURCE)
@interface Library {
    String[] value()
}
