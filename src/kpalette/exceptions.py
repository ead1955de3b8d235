"""Exceptions and warnings raised by kpalette.

The library raises these; the command line turns each error into one line
``kpalette: error: <message>`` and a non-zero exit status, and each warning into one
line ``kpalette: warning: <message>``.
"""

import functools
import importlib.util
import sys


class KPaletteError(Exception):
    """Base class of every error kpalette raises on purpose."""


class ImageReadError(KPaletteError):
    """An input could not be read as an image (missing, not an image, truncated, too large)."""


class ImageWriteError(KPaletteError):
    """An output could not be written (missing folder, bad format, the input itself)."""


class OutputExistsError(ImageWriteError):
    """The output file exists and overwriting was not asked for."""


class QualityTooLow(KPaletteError, ValueError):
    """Even the most colours searched stay under the quality asked for as a minimum
    (``Options.quality``); the command line exits with status 99, as pngquant does,
    and writes nothing.

    Attributes
    ----------
    best : float
        The best score reached (SSIMULACRA2).
    k : int
        The number of colours that reached it.
    """

    def __init__(self, message: str, *, best: float, k: int):
        super().__init__(message)
        self.best = best
        self.k = k


class KPaletteWarning(UserWarning):
    """A non-fatal problem: fewer distinct colours than requested, no convergence,
    frames left out of an animated input, a translucent palette written to GIF."""


class MissingExtraError(KPaletteError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require_extra(module: str, extra: str) -> None:
    """Raise :class:`MissingExtraError` unless ``module`` can be imported.

    Parameters
    ----------
    module : str
        The module needed (``"matplotlib"``).
    extra : str
        The kpalette extra that installs it (``"plot"``).
    """

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{module} is not installed; install it with: pip install 'kpalette[{extra}]'"
        )


class ConvergenceWarning(KPaletteWarning):
    """K-means found fewer distinct clusters than asked for (fewer distinct rows than
    ``n_clusters``), as scikit-learn's warning of the same name says."""


class NotFittedError(ValueError, AttributeError):
    """A fitted attribute or method was used before ``fit`` (as scikit-learn's)."""


def not_fitted(message: str) -> NotFittedError:
    """A :class:`NotFittedError` to raise; when scikit-learn is already imported in this
    process (the caller works with its tools: pipelines, ``check_is_fitted``,
    ``check_estimator``), it is also an instance of scikit-learn's ``NotFittedError``,
    so that either ``except`` catches it. scikit-learn is never imported for this."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    base = getattr(sklearn_exceptions, "NotFittedError", None)
    if base is None or not isinstance(base, type) or issubclass(NotFittedError, base):
        return NotFittedError(message)
    return _both_not_fitted(base)(message)


@functools.cache
def _both_not_fitted(base: type) -> type:
    return type("NotFittedError", (NotFittedError, base), {"__module__": __name__})
