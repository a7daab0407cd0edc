"""Exceptions for people: each message says what was wrong, what was received and what to do.

The command line prints `S2SError` messages as one line on stderr and exits with status 2.
"""


class S2SError(Exception):
    """Base class of every error the package raises on bad input or missing data."""


class DataNotFoundError(S2SError):
    """A corpus file is not on disk and could not be downloaded."""


class ChecksumError(S2SError):
    """A downloaded or local file does not have the sha256 the registry expects."""


class CorpusFormatError(S2SError):
    """A corpus file has a line that cannot be parsed."""
