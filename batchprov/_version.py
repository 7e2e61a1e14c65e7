"""The version of batchprov, in the one place every module reads it from."""

__version__ = "0.1.0"
