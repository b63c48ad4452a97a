"""Process exit codes: the contract scripts and supervisors rely on (see README)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Everything ran; nothing was parked as a dead letter."""
    DEAD_LETTERS = 1
    """The run finished, but some records became dead letters."""
    BAD_CONFIG = 2
    """Bad configuration, bad mapping or bad command-line usage; nothing was changed."""
    UNREACHABLE = 3
    """A system (Repzo, an ERP, the state store) could not be reached or refused the credentials."""
    INTERNAL = 70
    """A bug in syncer itself (EX_SOFTWARE); the traceback is printed for the report."""
