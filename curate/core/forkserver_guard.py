"""Imported only by the local executor's forkserver (as a preload module): arms the parent-death
signal in that process, so the forkserver dies with the driver that started it, and its pool
workers (which die with their parent, the forkserver) follow. Without it, a driver killed by a
signal leaves the forkserver and idle workers behind."""

import os

from common.processes import arm_parent_death_signal

arm_parent_death_signal()
PID = os.getpid()  # inherited by every worker forked from here: die_with_parent checks its parent is still this
