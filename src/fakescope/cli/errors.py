"""How the command line reports a failure: a user's mistake as one line, a bug with its traceback.

Every error a user can cause is a `FakescopeError` (a bad flag, setting, file or data set), or
the operating system's answer about a path the user gave (missing, a folder, not allowed).
Anything else (a bare ValueError, KeyError, RuntimeError, ...) is a bug in fakescope: it keeps
its traceback and asks for a report.

Exit codes, the same for every command:

    0    done
    1    a bug in fakescope (traceback above the last line)
    2    a mistake of the user's: a bad flag, setting, path or file (one line)
    3    `predict` and `provenance`: done, but some inputs could not be read (their rows say why)
    130  stopped by Ctrl-C (SIGINT); a trainer wrote a checkpoint first, `--resume` goes on
    143  stopped by SIGTERM; likewise
"""

from __future__ import annotations

import re
import signal

from fakescope.errors import FakescopeError

BUG = 1
USER_ERROR = 2
SOME_INPUTS_FAILED = 3
EXIT_CODES = (
    "exit status: 0 done; 1 a bug in fakescope (with a traceback); 2 a mistake in the command, "
    "a setting, path or file (one line); 3 predict/provenance: some inputs could not be read "
    "(their rows say why); 130 stopped by Ctrl-C; 143 stopped by SIGTERM"
)

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


# Terminal colour and cursor codes some libraries put in their messages (ESC [ ... letter).
ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def format_error(err: BaseException) -> str:
    """One line: KeyError's quoting removed, multi-line messages joined, no terminal codes."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(ANSI_CODE.sub("", str(text)).split()) or type(err).__name__


def signal_exit_code(name: str) -> int:
    """The shell's code for a process stopped by signal `name`: 128 + its number (SIGINT 130,
    SIGTERM 143)."""
    return 128 + signal.Signals[name].value
