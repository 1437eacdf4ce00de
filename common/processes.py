"""Process hygiene shared by curate's worker pools and train's torchrun workers."""

from __future__ import annotations

import ctypes
import signal
import sys


def arm_parent_death_signal() -> None:
    """This process gets SIGKILL when its parent dies (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
