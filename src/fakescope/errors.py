"""The one base class of the errors a user can cause and fix.

A `FakescopeError` is about the user's input (a flag, a setting, a path, a file, a data set):
the command line shows its message as one line and exits 2. Any other exception is a bug in
fakescope, and keeps its traceback.
"""

from __future__ import annotations


class FakescopeError(Exception):
    """A mistake in what the user asked for or gave; the message says what, in one line."""


class StoppedBySignal(FakescopeError):
    """Ctrl-C (SIGINT) or SIGTERM stopped the job after it saved its work; the command line
    exits 128 + the signal's number (130, 143)."""

    def __init__(self, message: str, signal: str = "SIGINT") -> None:
        super().__init__(message)
        self.signal = signal  # SIGINT or SIGTERM


class DataError(FakescopeError, ValueError):
    """A data set cannot serve the job: no images, a class or split missing, too few pictures."""


class UnknownNameError(FakescopeError, KeyError):
    """A name no registry holds (a detector, a GAN architecture); the message lists the known."""


class SetupError(FakescopeError, RuntimeError):
    """The machine or installation lacks what the job asked for: a GPU, a package, a free port."""


class BadFileError(FakescopeError, ValueError):
    """A file the user gave is not what the job needs (not an ONNX export of this checkpoint,
    no certificate in a PEM file); the message names the file."""
