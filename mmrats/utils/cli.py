"""Small helpers the command-line tools share."""
import sys
from pathlib import Path


class InputError(Exception):
    """Bad command-line input: a tool reports it in one ``error: ...`` line on stderr and exits with code 2."""


def report_input_error(error: Exception) -> int:
    """Print ``error`` as the one line a tool shows for bad input; returns the exit code 2."""
    print(f'error: {error}', file=sys.stderr)
    return 2


def check_paths(src: str, dst: str, force: bool) -> tuple[Path, Path] | None:
    """``(src, dst)`` as paths, or None after printing why the conversion cannot start
    (a missing source; an existing output without ``--force``: nothing is overwritten)."""
    src_p, dst_p = Path(src), Path(dst)
    if not src_p.is_file():
        print(f'error: source checkpoint {src_p} does not exist', file=sys.stderr)
        return None
    if dst_p.exists() and not force:
        print(f'error: {dst_p} exists; pass --force to overwrite it', file=sys.stderr)
        return None
    return src_p, dst_p
