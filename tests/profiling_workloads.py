"""Entry scripts with a known cost, shared by the process and Docker profiling tests.

tests/ is on sys.path (pytest puts the rootdir's conftest folder there), so both import this.
"""

from __future__ import annotations

ALLOCATED_GB = 300 / 1024  # 300 MiB, in the GiB the profile reports
BURN_MS = 40.0

MEMORY_SCRIPT = """\
import numpy as np

def init():
    global ballast
    ballast = np.ones(300 * 1024 * 1024 // 8)  # 300 MiB, every page written

def run(data):
    return [float(ballast[0])]
"""

BURN_SCRIPT = """\
import time
import numpy as np

def init():
    pass

def run(data):
    # thread_time counts only this thread's CPU, so the burn is 40 ms of CPU however busy the machine is.
    end = time.thread_time() + 0.040
    while time.thread_time() < end:
        pass
    return [1.0]
"""
