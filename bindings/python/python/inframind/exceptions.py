"""The exceptions inframind raises, and the one map from the core's error kinds to them.

Every error of the Rust core has a kind (``inframind_core::ErrorKind``): ``invalid_input``,
``not_enough_data``, ``model``... :data:`KIND_CLASSES` says which class answers each kind; the
native module raises through it and nowhere else decides. The exception's ``kind`` attribute is
that name and ``field`` names the input field at fault when the core names one, so callers
branch on attributes, never on message text::

    try:
        model = im.DurationModel.train(runs)
    except im.NotEnoughDataError:
        model = None                      # too few successful runs yet
    except im.InvalidInputError as e:
        reply(422, str(e), field=e.field)  # e.g. "history[3].config.concurrency"

File-system errors are the usual ``OSError`` subclasses chosen by errno
(``FileNotFoundError``, ``PermissionError``...), and a process that does not exist is a
``ProcessLookupError``; they carry ``kind`` and ``field`` too.
"""

from typing import Dict, Optional, Type

__all__ = [
    "KIND_CLASSES",
    "CollectorError",
    "InframindError",
    "InvalidInputError",
    "ModelError",
    "NoSafeConfigError",
    "NotEnoughDataError",
    "PolicyError",
    "StoreError",
]


class InframindError(Exception):
    """Base class of every error raised by inframind.

    ``kind`` is the core's name for the sort of error (``invalid_input``, ``model``...; None for
    an internal error, a bug in inframind). ``field`` names the input field at fault when there
    is one (``history[3].config.concurrency``, ``n_trees``), else None.
    """

    kind: Optional[str] = None
    field: Optional[str] = None

    def __init__(self, *args: object, field: Optional[str] = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


class InvalidInputError(InframindError, ValueError):
    """A run, context, config, array or parameter is invalid; the message names the field and
    the value, ``field`` names the field. Also a ValueError."""

    kind = "invalid_input"


class NotEnoughDataError(InvalidInputError):
    """Too few (usable) runs to do what was asked, e.g. fewer than two successful runs to train
    a model on. More runs will fix it; the runs given are not wrong."""

    kind = "not_enough_data"


class NoSafeConfigError(InvalidInputError):
    """No configuration satisfies the safety guards within the declared capacity, even at one
    job: the context asks for more memory or CPU than the capacity offers."""

    kind = "no_safe_config"


class ModelError(InframindError):
    """A model cannot be used: corrupt or foreign model bytes, or a feature schema other than
    the one it was trained on."""

    kind = "model"


class StoreError(InframindError):
    """A model store holds no usable model for a pipeline: none was saved, or no stored version
    decodes."""

    kind = "not_stored"


class PolicyError(InframindError):
    """A remediation policy (or a label matcher or log pattern in it) is invalid; nothing of the
    policy file was loaded."""

    kind = "policy"


class CollectorError(InframindError):
    """A collector cannot read what it measures (``/proc``, a cache tool's statistics)."""

    kind = "collector"


# The public name of each class is ``inframind.<Class>`` (that is where users import it from),
# so reprs, tracebacks and pickles name it there.
for _cls in (InframindError, InvalidInputError, NotEnoughDataError, NoSafeConfigError, ModelError,
             StoreError, PolicyError, CollectorError):
    _cls.__module__ = "inframind"
del _cls

KIND_CLASSES: Dict[str, Type[Exception]] = {
    "invalid_input": InvalidInputError,
    "not_enough_data": NotEnoughDataError,
    "no_safe_config": NoSafeConfigError,
    "model": ModelError,
    "not_stored": StoreError,
    # The native module refines these by the OS's errno (FileNotFoundError, PermissionError,
    # ProcessLookupError...), as Python's own I/O does.
    "not_found": OSError,
    "io": OSError,
    "policy": PolicyError,
    "collector": CollectorError,
}
"""The class raised for each core error kind (``ErrorKind::as_str()``): the one place Python
maps kinds. A kind missing here (added to the core later) is raised as :class:`InframindError`."""
