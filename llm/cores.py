"""How many cores this process may use: the CPUs it may run on (its affinity), within its
CPU quota (a container's `cpus:` limit, which affinity does not show). llama.cpp's threads
spin between steps, so a worker that takes every core of a host shared with other workers
slows them all down: each takes its own share."""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def available_cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Return the cores this process may use, at least 1."""
    cores = len(os.sched_getaffinity(0))
    quota = cpu_quota(cgroup_root)
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """Return the CPU quota of this process's cgroup in cores (cgroup v2's cpu.max, else
    v1's cfs_quota_us over cfs_period_us), or None where it has none."""
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = (cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
        period = (cgroup_root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        return None if int(quota) <= 0 else int(quota) / int(period)
    except (OSError, ValueError):
        return None
