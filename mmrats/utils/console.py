"""A readable console for long drivers (the demo): one line per stage, a progress bar, the results.

Inside :func:`stage`, everything the process writes to its standard output and
error (file descriptors 1 and 2, so also mmengine's logger, warnings, C
extensions and data-loader workers) goes to the stage's log file instead of
the terminal. What the driver itself wants the user to see goes through
:func:`say` (standard output) and :class:`Progress` (standard error), which
write to the terminal the process started with.

With ``verbose=True`` nothing is redirected: every line streams as usual and
the progress bars stay silent (mmengine's own logger already reports
progress).
"""
from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar('T')

# The terminal's streams while a stage redirects file descriptors 1 and 2; None outside a stage.
_terminal: tuple[TextIO, TextIO] | None = None


def say(line: str = '') -> None:
    """Print ``line`` on the terminal's standard output, inside a stage or not."""
    out = _terminal[0] if _terminal else sys.stdout
    print(line, file=out, flush=True)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


class Progress:
    """A progress bar with elapsed time and ETA on the terminal's standard error.

    Silent outside a quiet :func:`stage` (a tool run by hand prints its own
    lines). On a terminal the bar redraws in place; otherwise (a log, CI) it
    prints one line at every tenth of the work, so the output stays short.

    Args:
        label: what is counted, e.g. ``'train'``, ``'test'``.
        total: the number of steps.
        stream: draw here even outside a stage (a long tool run by hand, e.g. the SAM mask generation).
    """

    WIDTH = 24

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total = label, max(int(total), 1)
        self.stream = stream or (_terminal[1] if _terminal else None)
        self.tty = bool(self.stream and self.stream.isatty())
        self.start = time.monotonic()
        self.done = 0
        self._last_decile = -1

    def update(self, done: int) -> None:
        """Report that ``done`` of ``total`` steps are finished."""
        if self.stream is None:
            return
        self.done = min(int(done), self.total)
        decile = 10 * self.done // self.total
        if not self.tty and decile == self._last_decile:
            return
        self._last_decile = decile
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        filled = self.WIDTH * self.done // self.total
        bar = '#' * filled + '.' * (self.WIDTH - filled)
        line = (f'    {self.label:<6} [{bar}] {self.done}/{self.total}  {_hms(elapsed)} elapsed'
                + (f', ETA {_hms(eta)}' if self.done < self.total else ''))
        end = '' if self.tty and self.done < self.total else '\n'
        self.stream.write(('\r' + line + '\x1b[K' if self.tty else line) + end)
        self.stream.flush()

    def finish(self) -> None:
        """Draw the bar full (once)."""
        if self.done < self.total:
            self.update(self.total)


def track(items: Iterable[T], label: str, total: int | None = None, stream: TextIO | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a :class:`Progress` bar (``total`` defaults to ``len(items)``; ``stream``:
    draw there even outside a stage)."""
    bar = Progress(label, total if total is not None else len(items), stream)  # type: ignore[arg-type]
    for i, item in enumerate(items, 1):
        yield item
        bar.update(i)


def _fd_stream(fd: int) -> TextIO:
    """A line-buffered text stream on file descriptor ``fd`` that never closes it."""
    return io.TextIOWrapper(io.FileIO(fd, 'w', closefd=False), line_buffering=True, errors='replace')


def quiet() -> bool:
    """Whether a quiet stage is redirecting the output now."""
    return _terminal is not None


@contextmanager
def stage(title: str, log_file: str, verbose: bool = False) -> Iterator[None]:
    """Run a block as one stage: its title on the terminal, its output into ``log_file``.

    On an error the last lines of the log are shown, so the cause is not hidden.

    Args:
        title: one line saying what runs.
        log_file: where the stage's output goes (appended; its folder is created).
        verbose: stream everything to the terminal instead.
    """
    global _terminal
    say(f'==> {title}')
    if verbose or _terminal is not None:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds, saved_streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
    _terminal = (os.fdopen(os.dup(saved_fds[0]), 'w'), os.fdopen(os.dup(saved_fds[1]), 'w'))
    start = time.monotonic()
    ok = False
    try:
        with open(log_file, 'a') as log:
            os.dup2(log.fileno(), 1)  # C code, child processes, handlers holding the old sys.stdout
            os.dup2(log.fileno(), 2)
        # Python code, even where sys.stdout was not file descriptor 1 (pytest's capture). Streams over
        # the descriptors, never closed: a logging handler made during the stage keeps a valid stream.
        sys.stdout, sys.stderr = _fd_stream(1), _fd_stream(2)
        yield
        ok = True
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved_streams
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in saved_fds:
            os.close(fd)
        for stream in _terminal:
            stream.close()
        _terminal = None
        if ok:
            say(f'    done in {_hms(time.monotonic() - start)}; full log: {log_file}')
        else:
            with open(log_file, errors='replace') as f:
                tail = f.readlines()[-25:]
            print(f'    failed; the last lines of {log_file}:\n' + ''.join('    | ' + t for t in tail),
                  file=sys.stderr, flush=True)
