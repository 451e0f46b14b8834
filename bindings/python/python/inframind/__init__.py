"""InfraMind: faster, self-healing CI/CD builds, in-process.

The Rust core (``inframind-core``) learns how long a pipeline's build takes under a given
configuration, suggests the fastest configuration that never starves the build of memory or
CPU, and classifies failed builds. Runs, steps, configs and contexts are plain dicts with the
REST API's snake_case field names, so a web handler can pass its request body straight in::

    import inframind as im

    history = im.demo_history("cmake", 200, seed=1)          # or your runs, oldest first
    model = im.DurationModel.train(history, n_trees=100, seed=0)
    s = im.Optimizer(model).suggest(history, {"tool": "cmake"}, seed=7)
    print(s.config, s.predicted_duration_s, s.rationale)

Errors are :class:`InframindError` subclasses chosen by the core's error kind (see
:mod:`inframind.exceptions`): :class:`InvalidInputError` is also a ``ValueError``, and
:class:`NotEnoughDataError` and :class:`NoSafeConfigError` are kinds of it. File-system errors
are ``OSError`` subclasses (``FileNotFoundError``...), a missing process a
``ProcessLookupError``.
"""

from collections.abc import Mapping as _Mapping

from .exceptions import (
    CollectorError,
    InframindError,
    InvalidInputError,
    ModelError,
    NoSafeConfigError,
    NotEnoughDataError,
    PolicyError,
    StoreError,
)
from ._inframind import (
    FEATURE_NAMES,
    RUN_STATUSES,
    Classification,
    DurationModel,
    History,
    ModelStore,
    Optimizer,
    PolicySet,
    Prediction,
    RetrainPolicy,
    Suggestion,
    __version__,
    check_name,
    classify_log,
    final_status,
    demo_history,
    feature_schema,
    features,
    tool_env,
    training_data,
    validate_context,
    validate_run,
)

try:  # the collectors read /proc: Linux only
    from ._inframind import (
        Collector,
        ProcessTreeSampler,
        Snapshot,
        SystemSampler,
        ccache_stats,
        parse_ccache_stats,
        parse_sccache_stats,
        sccache_stats,
    )
except ImportError:  # pragma: no cover - not Linux
    pass

# A Classification reads like a read-only dict.
_Mapping.register(Classification)

__all__ = [
    "FEATURE_NAMES",
    "RUN_STATUSES",
    "Classification",
    "CollectorError",
    "DurationModel",
    "History",
    "InframindError",
    "InvalidInputError",
    "ModelError",
    "ModelStore",
    "NoSafeConfigError",
    "NotEnoughDataError",
    "Optimizer",
    "PolicyError",
    "PolicySet",
    "Prediction",
    "RetrainPolicy",
    "StoreError",
    "Suggestion",
    "__version__",
    "check_name",
    "classify_log",
    "final_status",
    "demo_history",
    "feature_schema",
    "features",
    "tool_env",
    "training_data",
    "validate_context",
    "validate_run",
]
if "SystemSampler" in globals():
    __all__ += [
        "Collector",
        "ProcessTreeSampler",
        "Snapshot",
        "SystemSampler",
        "ccache_stats",
        "parse_ccache_stats",
        "parse_sccache_stats",
        "sccache_stats",
    ]
