"""A profile is only as good as its resource samples: no samples, too few, or a sampler
that breaks must end the profile Failed with the reason, never Succeeded with NaN.

The services are real (process backend, real HTTP load); only the sampler is swapped,
for small implementations of the documented ``Sampler`` protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlnb import InferenceConfig, Model, Webservice, Workspace
from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends import Sample, Sampler, register_backend, unregister_backend
from mlnb.deploy.backends._process import ProcessBackend
from mlnb.errors import ProfileFailed

REQUEST = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
BACKEND = "process-test-sampler"


class NoReadings:
    """A sampler that never has a reading (an engine whose stats never come)."""

    description = "a sampler with no readings"

    def read(self) -> Sample | None:
        return None

    def close(self) -> None:
        pass


class FirstReadingOnly:
    """The real process-tree sampler's first reading, then nothing: memory, but no CPU rate."""

    description = "one reading, then none"

    def __init__(self, real: Sampler) -> None:
        self._real: Sampler | None = real

    def read(self) -> Sample | None:
        if self._real is None:
            return None
        sample, self._real = self._real.read(), None
        return sample

    def close(self) -> None:
        pass


class BreaksAfter:
    """The real sampler for a few readings, then ``error`` on every read."""

    description = "a sampler that breaks"

    def __init__(self, real: Sampler, error: Exception, readings: int = 3) -> None:
        self._real, self._error, self._left = real, error, readings

    def read(self) -> Sample | None:
        if self._left == 0:
            raise self._error
        self._left -= 1
        return self._real.read()

    def close(self) -> None:
        self._real.close()


class SwappedSamplerBackend(ProcessBackend):
    """The process backend, with the sampler a test chooses wrapped around its own."""

    name = BACKEND

    def __init__(self) -> None:
        super().__init__()
        self.make_sampler: Callable[[Sampler], Sampler] = lambda real: real

    def sampler(self, record: ServiceRecord) -> Sampler:
        return self.make_sampler(super().sampler(record))


@pytest.fixture()
def backend(project: tuple[Workspace, Model, Path]) -> Iterator[SwappedSamplerBackend]:
    instance = SwappedSamplerBackend()
    register_backend(BACKEND, lambda: instance)
    yield instance
    for service in Webservice.list(project[0]):  # before the name goes: the project's own cleanup comes later
        service.delete()
    unregister_backend(BACKEND)


def _profile(project: tuple[Workspace, Model, Path], name: str, duration_s: float = 3) -> object:
    workspace, model, source = project
    config = InferenceConfig("score.py", source_directory=source)
    return Model.profile(workspace, name, [model], config, [REQUEST], duration_s=duration_s, concurrency=[1], backend=BACKEND)


def _assert_removed(workspace: Workspace, name: str) -> None:
    assert name not in [service.name for service in Webservice.list(workspace)]


def test_a_profile_without_samples_fails_with_the_reason(project: tuple[Workspace, Model, Path], backend: SwappedSamplerBackend) -> None:
    backend.make_sampler = lambda real: NoReadings()
    profile = _profile(project, "nosamples")
    with pytest.raises(ProfileFailed, match="no CPU or memory sample"):
        profile.wait_for_profiling()
    assert profile.state == "Failed" and "a sampler with no readings" in profile.error
    with pytest.raises(ProfileFailed, match="no CPU or memory sample"):
        profile.get_results()
    assert "Failed" in repr(profile) and "no CPU or memory sample" in profile._repr_html_()
    details = profile.get_details()
    assert details["state"] == "Failed" and "recommendation" not in details
    assert details["levels"][0]["requests"] > 0  # the load itself ran and is still reported
    _assert_removed(project[0], "nosamples")


def test_a_profile_with_too_few_samples_for_cpu_fails(project: tuple[Workspace, Model, Path], backend: SwappedSamplerBackend) -> None:
    backend.make_sampler = FirstReadingOnly
    profile = _profile(project, "onesample")
    with pytest.raises(ProfileFailed, match="too few CPU samples"):
        profile.wait_for_profiling()
    with pytest.raises(ProfileFailed, match="too few CPU samples"):
        profile.get_results()


def test_a_sampler_that_breaks_fails_the_profile_at_once(project: tuple[Workspace, Model, Path], backend: SwappedSamplerBackend) -> None:
    backend.make_sampler = lambda real: BreaksAfter(real, ProfileFailed("the Docker stats stream broke: connection reset"))
    profile = _profile(project, "brokensampler", duration_s=20)
    with pytest.raises(ProfileFailed, match="resource sampling failed: the Docker stats stream broke"):
        profile.wait_for_profiling()
    # The load stopped when the sampler broke (after three readings), not at the end of its 20 s.
    assert profile.get_details()["timings"]["load_s"] < 10
    assert profile.state == "Failed"
    _assert_removed(project[0], "brokensampler")


def test_a_bug_in_a_sampler_keeps_its_traceback(project: tuple[Workspace, Model, Path], backend: SwappedSamplerBackend) -> None:
    backend.make_sampler = lambda real: BreaksAfter(real, KeyError("memory_stats"))
    profile = _profile(project, "buggysampler")
    with pytest.raises(ProfileFailed, match="resource sampling failed: KeyError: 'memory_stats'") as raised:
        profile.wait_for_profiling()
    assert isinstance(raised.value.__cause__, KeyError) and raised.value.__cause__.__traceback__ is not None
