"""The errors a pre-flight raises, and the wording its messages share.

Every problem is one exception whose ``str()`` is the whole message for the
user; ``tools/train.py`` and ``tools/test.py`` print it after ``error:`` and
exit with status 2. Each check module adds its own subclass
(:class:`~.data_roots.DataRootError`, :class:`~.weights.WeightsError`);
:class:`ClassCheckError` is shared by the class checks (COCO classes,
segmentation labels, heads).
"""
import sys
from collections.abc import Sequence


class PreflightError(Exception):
    """A problem found before the runner is built; ``str(e)`` is the message for the user.

    ``tools/train.py`` and ``tools/test.py`` print it after ``error:`` and exit with status 2.
    """


class ClassCheckError(PreflightError, ValueError):
    """The config's classes, its head and its data do not agree."""


def warn_stderr(msg: str) -> None:
    """The default ``warn``: one ``warning:`` line on stderr."""
    print(f'warning: {msg}', file=sys.stderr)


def short(names: Sequence, n: int = 5) -> str:
    """``('a', 'b', ... 75 more)``: a list shortened for a one-line message."""
    names = list(names)
    head = ', '.join(repr(x) for x in names[:n])
    if len(names) > n:
        return f'({head}, ... {len(names) - n} more)'
    return f'({head},)' if len(names) == 1 else f'({head})'
