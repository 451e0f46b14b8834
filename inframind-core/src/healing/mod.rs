//! Self-healing: Alertmanager alerts matched against remediation policies, and CI failure
//! logs classified into a remediation.
