//! Collectors (Linux only): `SystemSampler`, `ProcessTreeSampler`, `Collector`, `Snapshot`
//! and the ccache / sccache statistics.

use pyo3::prelude::*;

/// Adds the collector classes and functions to the module (nothing off Linux, where the core
/// has no collectors).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    #[cfg(target_os = "linux")]
    imp::register(m)?;
    #[cfg(not(target_os = "linux"))]
    let _ = m;
    Ok(())
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::Mutex;
    use std::time::Duration;

    use inframind_core::collect::{
        ccache_stats, parse_ccache_stats, parse_sccache_stats, sccache_stats, CacheStats,
        Collector, CollectorOptions, ProcessTreeSampler, Snapshot, SystemSampler,
    };
    use pyo3::prelude::*;
    use pyo3::types::PyDict;

    use crate::convert::to_py;
    use crate::errors::{guard, invalid_input, CoreResultExt};

    pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_class::<PySystemSampler>()?;
        m.add_class::<PyProcessTreeSampler>()?;
        m.add_class::<PyCollector>()?;
        m.add_class::<PySnapshot>()?;
        m.add_function(wrap_pyfunction!(py_ccache_stats, m)?)?;
        m.add_function(wrap_pyfunction!(py_sccache_stats, m)?)?;
        m.add_function(wrap_pyfunction!(py_parse_ccache_stats, m)?)?;
        m.add_function(wrap_pyfunction!(py_parse_sccache_stats, m)?)?;
        Ok(())
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        // A sampler only holds its previous reading; after a panic elsewhere it is still usable.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `{"tool", "hits", "misses", "hit_ratio"}` (hit_ratio None when nothing was counted).
    fn cache_dict<'py>(py: Python<'py>, c: &CacheStats) -> PyResult<Bound<'py, PyAny>> {
        let d = to_py(py, c)?.cast_into::<PyDict>()?;
        d.set_item("hit_ratio", c.hit_ratio())?;
        Ok(d.into_any())
    }

    fn optional_cache<'py>(
        py: Python<'py>,
        c: Option<CacheStats>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        c.map(|c| cache_dict(py, &c)).transpose()
    }

    /// System-wide CPU, memory and disk I/O from /proc. `sample()` returns a dict
    /// (`cpu_usage_ratio` is the busy share of all cores since the previous sample).
    #[pyclass(frozen, module = "inframind", name = "SystemSampler")]
    pub(super) struct PySystemSampler {
        inner: Mutex<SystemSampler>,
    }

    #[pymethods]
    impl PySystemSampler {
        #[new]
        fn new(py: Python<'_>) -> PyResult<Self> {
            guard(py, || {
                let inner = py.detach(SystemSampler::new).py_err(py)?;
                Ok(PySystemSampler {
                    inner: Mutex::new(inner),
                })
            })
        }

        /// Reads /proc once: `{"cpu_usage_ratio", "cpu_seconds_total", "cpu_count",
        /// "mem_total_bytes", "mem_used_bytes", "io_read_bytes_total", "io_write_bytes_total"}`.
        fn sample<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            guard(py, || {
                let s = py.detach(|| lock(&self.inner).sample()).py_err(py)?;
                to_py(py, &s)
            })
        }
    }

    /// A build's process tree (the root pid and all its descendants, found afresh at each
    /// sample): CPU seconds, RSS and its peak, I/O; counters never go back when members exit.
    #[pyclass(frozen, module = "inframind", name = "ProcessTreeSampler")]
    pub(super) struct PyProcessTreeSampler {
        inner: Mutex<ProcessTreeSampler>,
        pid: i32,
    }

    #[pymethods]
    impl PyProcessTreeSampler {
        /// Watches process `pid` and its descendants; ProcessLookupError (naming the pid) when
        /// the process does not exist.
        #[new]
        fn new(py: Python<'_>, pid: i32) -> PyResult<Self> {
            guard(py, || {
                let inner = py.detach(|| ProcessTreeSampler::new(pid)).py_err(py)?;
                Ok(PyProcessTreeSampler {
                    inner: Mutex::new(inner),
                    pid,
                })
            })
        }

        /// The root process id.
        #[getter]
        fn pid(&self) -> i32 {
            self.pid
        }

        /// `{"root_pid", "root_alive", "processes", "cpu_seconds_total", "rss_bytes",
        /// "peak_rss_bytes", "io_read_bytes_total", "io_write_bytes_total"}`.
        fn sample<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            guard(py, || {
                let s = py.detach(|| lock(&self.inner).sample()).py_err(py)?;
                to_py(py, &s)
            })
        }
    }

    /// Everything an agent samples, in one handle: the system, optionally a process tree
    /// (`pid`) and the ccache / sccache statistics (`cache=True`, read at most every
    /// `cache_interval_s` seconds).
    #[pyclass(frozen, module = "inframind", name = "Collector")]
    pub(super) struct PyCollector {
        inner: Mutex<Collector>,
    }

    #[pymethods]
    impl PyCollector {
        #[new]
        #[pyo3(signature = (pid=None, *, cache=false, cache_interval_s=30.0))]
        fn new(
            py: Python<'_>,
            pid: Option<i32>,
            cache: bool,
            cache_interval_s: f64,
        ) -> PyResult<Self> {
            guard(py, || {
                let interval = Duration::try_from_secs_f64(cache_interval_s).map_err(|_| {
                    invalid_input(
                        py,
                        Some("cache_interval_s"),
                        format!(
                            "invalid cache_interval_s = {cache_interval_s}: must be a finite number of seconds, 0 or more"
                        ),
                    )
                })?;
                let mut options = CollectorOptions::default()
                    .cache(cache)
                    .cache_interval(interval);
                if let Some(pid) = pid {
                    options = options.pid(pid);
                }
                let inner = py.detach(|| Collector::new(options)).py_err(py)?;
                Ok(PyCollector {
                    inner: Mutex::new(inner),
                })
            })
        }

        /// One snapshot of everything. Releases the GIL (reading the cache tools may take a
        /// moment).
        fn sample(&self, py: Python<'_>) -> PyResult<PySnapshot> {
            guard(py, || {
                let inner = py.detach(|| lock(&self.inner).sample()).py_err(py)?;
                Ok(PySnapshot { inner })
            })
        }

        /// Why the last cache read failed, if it did (the snapshot then keeps the previous
        /// cache statistics).
        #[getter]
        fn last_cache_error(&self) -> Option<String> {
            lock(&self.inner).last_cache_error().map(str::to_string)
        }
    }

    /// One collector snapshot.
    #[pyclass(frozen, module = "inframind", name = "Snapshot")]
    pub(super) struct PySnapshot {
        inner: Snapshot,
    }

    #[pymethods]
    impl PySnapshot {
        /// Milliseconds since the Unix epoch.
        #[getter]
        fn timestamp_ms(&self) -> u64 {
            self.inner.timestamp_ms
        }

        /// The system sample (a dict, as `SystemSampler.sample()`).
        #[getter]
        fn system<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            to_py(py, &self.inner.system)
        }

        /// The process tree sample (a dict), or None without a pid.
        #[getter]
        fn tree<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            to_py(py, &self.inner.tree)
        }

        /// Cache statistics (dicts with `tool`, `hits`, `misses`, `hit_ratio`).
        #[getter]
        fn caches<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
            self.inner
                .caches
                .iter()
                .map(|c| cache_dict(py, c))
                .collect()
        }

        /// Every field as a dict.
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            to_py(py, &self.inner)
        }

        /// One JSON object, no newline (for logs).
        fn to_json_line(&self) -> String {
            self.inner.to_json_line()
        }

        /// The Prometheus text exposition (format 0.0.4) of the snapshot.
        fn render_prometheus(&self) -> String {
            self.inner.render_prometheus()
        }
    }

    /// Runs `ccache --print-stats`: the statistics, or None when ccache is not installed.
    #[pyfunction(name = "ccache_stats")]
    fn py_ccache_stats(py: Python<'_>) -> PyResult<Option<Bound<'_, PyAny>>> {
        guard(py, || {
            let c = py.detach(ccache_stats).py_err(py)?;
            optional_cache(py, c)
        })
    }

    /// Runs `sccache --show-stats`: the statistics, or None when sccache is not installed.
    #[pyfunction(name = "sccache_stats")]
    fn py_sccache_stats(py: Python<'_>) -> PyResult<Option<Bound<'_, PyAny>>> {
        guard(py, || {
            let c = py.detach(sccache_stats).py_err(py)?;
            optional_cache(py, c)
        })
    }

    /// Parses saved `ccache --print-stats` output.
    #[pyfunction(name = "parse_ccache_stats")]
    fn py_parse_ccache_stats(py: Python<'_>, text: String) -> PyResult<Bound<'_, PyAny>> {
        guard(py, || {
            let c = parse_ccache_stats(&text).py_err(py)?;
            cache_dict(py, &c)
        })
    }

    /// Parses saved `sccache --show-stats --stats-format=json` output.
    #[pyfunction(name = "parse_sccache_stats")]
    fn py_parse_sccache_stats(py: Python<'_>, json: String) -> PyResult<Bound<'_, PyAny>> {
        guard(py, || {
            let c = parse_sccache_stats(&json).py_err(py)?;
            cache_dict(py, &c)
        })
    }
}
