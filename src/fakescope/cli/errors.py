"""Errors a user can cause (bad path, bad flag, bad file): shown as one line, not a traceback."""

from __future__ import annotations

from fakescope.checkpoints import CheckpointError
from fakescope.config import ConfigError
from fakescope.data.images import BadImageError

USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    BadImageError,
    CheckpointError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    PermissionError,
    KeyError,
    ValueError,
    RuntimeError,
)


def format_error(err: BaseException) -> str:
    """One line: KeyError's quoting removed, multi-line messages joined."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(text).split()) or type(err).__name__
