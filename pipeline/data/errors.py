"""Exceptions for bad or missing data; each is a PipelineError, so a stage prints it as a short message."""
from __future__ import annotations

from pipeline.errors import PipelineError


class DataError(PipelineError, ValueError):
    """Input data is missing, malformed or does not match what was expected."""


class IdxError(DataError):
    """An IDX file is malformed: bad magic, dtype code, dimensions or length."""


class ChecksumError(DataError):
    """Bytes do not match their expected SHA-256 (or gzip MD5)."""


class SourceError(DataError):
    """One data source could not provide the files (the message says why)."""


class UnsafePickleError(DataError):
    """A pickle asked for a global outside the allow-list of numpy array rebuilders."""


class DownloadError(DataError):
    """No configured source could provide the four MNIST files; the message lists every attempt."""
