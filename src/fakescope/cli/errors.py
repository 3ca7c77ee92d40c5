"""How the command line reports a failure: a user's mistake as one line, a bug with its traceback.

Every error a user can cause is a `FakescopeError` (a bad flag, setting, file or data set), or
the operating system's answer about a path the user gave (missing, a folder, not allowed).
Anything else (a bare ValueError, KeyError, RuntimeError, ...) is a bug in fakescope: it keeps
its traceback and asks for a report.
"""

from __future__ import annotations

from fakescope.errors import FakescopeError

USER_ERRORS: tuple[type[BaseException], ...] = (
    FakescopeError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

BUG_REPORT = (
    "fakescope: this is a bug in fakescope, not a mistake of yours; please report it with the "
    "command you ran, `fakescope --version` and the traceback above"
)


def format_error(err: BaseException) -> str:
    """One line: KeyError's quoting removed, multi-line messages joined."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(text).split()) or type(err).__name__
