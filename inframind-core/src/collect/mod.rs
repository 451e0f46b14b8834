//! `/proc` collectors (Linux only): system CPU, memory and I/O, a build's process tree, and
//! build-cache statistics; plus their Prometheus text exposition.
