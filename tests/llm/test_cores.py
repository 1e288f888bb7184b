"""The cores a worker takes: its CPUs, within its container's CPU limit (issue 21)."""

import os
from pathlib import Path

import pytest

from llm.cores import available_cores, cpu_quota


@pytest.fixture
def affinity() -> int:
    return len(os.sched_getaffinity(0))


def test_without_a_cgroup_limit_every_cpu_of_the_process_is_used(
    tmp_path: Path, affinity: int
) -> None:
    assert cpu_quota(tmp_path) is None
    assert available_cores(tmp_path) == affinity
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cores(tmp_path) == affinity


def test_a_cgroup_v2_limit_caps_the_cores_rounding_a_fraction_up(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a core
    assert cpu_quota(tmp_path) == 0.5
    assert available_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("100000000 100000\n")  # 1,000 cores: the CPUs decide
    assert available_cores(tmp_path) == len(os.sched_getaffinity(0))


def test_a_cgroup_v1_limit_is_read_too(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(tmp_path) == 1.0 and available_cores(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # no limit
    assert cpu_quota(tmp_path) is None
