"""Profiling: load a service at rising concurrency, sample its CPU and memory, recommend limits.

A profile warms the service up, then runs closed-loop load (each of N workers sends its
next request as soon as the last one is answered) at each concurrency level in turn,
cycling through the user's sample inputs, while the service's backend sampler (``service.resource_sampler()``) reads
the service's CPU time and memory five times a second. From that it recommends:

- ``memoryInGB``: the peak memory measured over the whole profile, plus
  ``memory_headroom`` (25 % by default), rounded up to 0.1 GB;
- ``cpu``: the CPU cores used at the highest concurrency level whose p99 latency is within
  ``p99_target_ms`` (100 ms by default) and whose error rate is at most 1 %, rounded up to
  0.1 core. When no level meets the target, the lowest level is used and the details say so.

The load generator runs in this process: one thread and one keep-alive ``http.client``
connection per unit of concurrency. A request costs the client about a tenth of a
millisecond of CPU, far below what a scoring request costs the server, and the client's
own CPU use is measured and reported per level, so a saturated client would show.

``duration_s`` is the budget for warm-up and load together; deploying a temporary service
and removing it come on top (a second or two on the process backend).
"""

from __future__ import annotations

import io
import itertools
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlnb import _html
from mlnb.client import ScoringClient
from mlnb.config import InferenceConfig, LocalWebservice
from mlnb.deploy import Webservice, deploy, validate_service_name
from mlnb.deploy.backends import Sampler
from mlnb.errors import DeploymentFailed, DeploymentTimeout, InvalidConfiguration, MlnbError, ProfileFailed
from mlnb.registry import Model, Workspace, check_workspace

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

DEFAULT_DURATION_S = 30.0
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
DEFAULT_P99_TARGET_MS = 100.0
DEFAULT_MEMORY_HEADROOM = 0.25
MAX_ERROR_RATE = 0.01
SAMPLE_INTERVAL_S = 0.2
_WARMUP_SHARE = 0.1
_WARMUP_MAX_S = 3.0
_MIN_LEVEL_S = 1.0
_DEPLOY_TIMEOUT_S = 600.0
_ERROR_EXAMPLES = 5
_GB = 1024**3

STATES = ("NotStarted", "Running", "Succeeded", "Failed", "Cancelled")


@dataclass
class _Level:
    """What happened at one concurrency level (or the warm-up)."""

    label: str
    concurrency: int
    started: float = 0.0
    ended: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.requests - self.statuses[200]


class ModelProfile:
    """A profiling run and its results; returned running by :meth:`mlnb.Model.profile` and :func:`profile_service`.

    Attributes:
        name: the profile's name.
        state: ``"NotStarted"``, ``"Running"``, ``"Succeeded"``, ``"Failed"`` or ``"Cancelled"``.
        error: why the profile failed, when it did.
    """

    def __init__(
        self,
        name: str,
        input_data: Any,
        *,
        duration_s: float | None = None,
        concurrency: Sequence[int] | None = None,
        p99_target_ms: float = DEFAULT_P99_TARGET_MS,
        memory_headroom: float = DEFAULT_MEMORY_HEADROOM,
    ) -> None:
        self.name = name
        self.duration_s = _positive("duration_s", DEFAULT_DURATION_S if duration_s is None else duration_s)
        levels = tuple(DEFAULT_CONCURRENCY if concurrency is None else concurrency)
        if not levels or any(not isinstance(c, int) or c < 1 for c in levels):
            raise InvalidConfiguration(f"invalid value for concurrency, expected integers of at least 1 (not {concurrency!r})")
        self.concurrency = tuple(sorted(set(levels)))
        self.p99_target_ms = _positive("p99_target_ms", p99_target_ms)
        if not 0 <= memory_headroom <= 10:
            raise InvalidConfiguration(f"invalid value for memory_headroom, expected a fraction such as 0.25 (not {memory_headroom!r})")
        self.memory_headroom = memory_headroom
        self._inputs = prepare_inputs(input_data)
        self.state = "NotStarted"
        self.error: str | None = None
        self._cause: BaseException | None = None
        self._sampling_error: BaseException | None = None
        self.service_name: str | None = None
        self.backend: str | None = None
        self._sampler_description = ""
        self._limits: dict[str, Any] = {}
        self._phase = "not started"
        self._levels: list[_Level] = []
        self._samples: list[tuple[float, float, float, str, int]] = []
        self._t0 = 0.0
        self._timings: dict[str, float] = {}
        self._cancel = threading.Event()
        # Waiters use this event, not Thread.join: a join interrupted by Ctrl-C can wrongly
        # report the thread finished (seen on CPython 3.11), and cleanup must be waited for.
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._figure_png: bytes | None = None

    # -- running -----------------------------------------------------------------------

    def _start(self, get_service: Callable[[], Webservice], *, temporary: bool) -> ModelProfile:
        # Not a daemon thread: an interpreter that exits waits for the run, whose finally
        # removes the temporary service.
        self._thread = threading.Thread(
            target=self._run, args=(get_service, temporary), name=f"mlnb-profile-{self.name}", daemon=False
        )
        self.state = "Running"
        self._thread.start()
        return self

    def _run(self, get_service: Callable[[], Webservice], temporary: bool) -> None:
        service: Webservice | None = None
        sampler: Sampler | None = None
        started = time.monotonic()
        try:
            self._phase = "deploying" if temporary else "connecting"
            service = get_service()
            self.service_name, self.backend = service.name, service.backend
            self._wait_healthy(service)
            self._timings["deploy_s"] = time.monotonic() - started
            sampler = service.resource_sampler()
            self._sampler_description = sampler.description
            self._load(service, sampler)
        except MlnbError as error:
            self._finish("Failed", str(error))
        except BaseException as error:  # a bug: keep its type and message for the user to report
            self._cause = error
            self._finish("Failed", f"{type(error).__name__}: {error}")
            raise
        finally:
            if sampler is not None:
                sampler.close()
            if temporary and service is not None:
                removal = time.monotonic()
                service.delete()
                self._timings["teardown_s"] = time.monotonic() - removal
            if self.state == "Running":
                self._finish(*self._outcome())
            self._done.set()

    def _wait_healthy(self, service: Webservice) -> None:
        deadline = time.monotonic() + _DEPLOY_TIMEOUT_S
        while not self._cancel.is_set():
            try:
                service.wait_for_deployment(timeout_sec=0.5)
                return
            except DeploymentTimeout:
                if time.monotonic() > deadline:
                    raise ProfileFailed(
                        f"service {service.name!r} was not healthy after {_DEPLOY_TIMEOUT_S:g} s; see its logs"
                    ) from None
            except DeploymentFailed as failure:
                raise ProfileFailed(f"the service to profile did not start: {failure}") from None

    def _load(self, service: Webservice, sampler: Sampler) -> None:
        workers = max(self.concurrency)
        clients = [ScoringClient(service, timeout=max(self.duration_s, 10.0)) for _ in range(workers)]
        bodies = [clients[0].encode(item) for item in self._inputs]
        sampling = threading.Thread(target=self._sample, args=(sampler,), name="mlnb-profile-sampler", daemon=True)
        self._t0 = time.monotonic()
        budget_end = self._t0 + self.duration_s
        warmup_s = min(_WARMUP_MAX_S, _WARMUP_SHARE * self.duration_s)
        level_s = (self.duration_s - warmup_s) / len(self.concurrency)
        if level_s < _MIN_LEVEL_S:
            raise ProfileFailed(
                f"duration_s={self.duration_s:g} leaves {level_s:.2f} s per concurrency level; "
                f"pass at least {_MIN_LEVEL_S} s per level plus warm-up, or fewer levels"
            )
        sampling.start()
        try:
            plan = [("warm-up", 1, self._t0 + warmup_s)]
            plan += [(f"c={c}", c, self._t0 + warmup_s + (i + 1) * level_s) for i, c in enumerate(self.concurrency)]
            for label, concurrency, until in plan:
                if self._halted():
                    break
                self._run_level(_Level(label, concurrency), clients[:concurrency], bodies, min(until, budget_end))
        finally:
            self._phase = "done"
            sampling.join()
            for client in clients:
                client.close()

    def _run_level(self, level: _Level, clients: list[ScoringClient], bodies: list[bytes], until: float) -> None:
        self._levels.append(level)
        self._phase = level.label
        counter = itertools.count()
        lock = threading.Lock()

        def work(client: ScoringClient) -> None:
            while not self._halted() and time.monotonic() < until:
                result = client.post(bodies[next(counter) % len(bodies)])
                with lock:  # Counter's += is a read and a write: threads would lose counts
                    level.statuses[result.status] += 1
                    if result.status == 200:
                        level.latencies_ms.append(result.latency_ms)
                    elif len(level.errors) < _ERROR_EXAMPLES:
                        level.errors.append(f"{result.status or 'no answer'}: {result.message[:300]}")

        threads = [threading.Thread(target=work, args=(c,), name=f"mlnb-load-{i}", daemon=True) for i, c in enumerate(clients)]
        cpu_before = time.process_time()
        level.started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        level.ended = time.monotonic()
        level.client_cpu_s = time.process_time() - cpu_before

    def _sample(self, sampler: Sampler) -> None:
        while self._phase != "done":
            try:
                sample = sampler.read()
            except Exception as error:  # recorded: it fails the profile and stops the load
                self._sampling_error = error
                return
            if sample is not None:
                level = self._levels[-1] if self._levels else None
                self._samples.append(
                    (sample.time, sample.cpu_seconds, sample.memory_bytes / _GB, self._phase, level.concurrency if level else 0)
                )
            time.sleep(SAMPLE_INTERVAL_S)

    def _halted(self) -> bool:
        return self._cancel.is_set() or self._sampling_error is not None

    def _finish(self, state: str, error: str | None = None) -> None:
        self.error = error
        self.state = state

    def _outcome(self) -> tuple[str, str | None]:
        if self._cancel.is_set():
            return "Cancelled", "the profile was stopped before it finished"
        if self._sampling_error is not None:
            error = self._sampling_error
            self._cause = error
            reason = str(error) if isinstance(error, MlnbError) else f"{type(error).__name__}: {error}"
            return "Failed", f"resource sampling failed: {reason}"
        levels = self._load_levels()
        if not levels or sum(level.statuses[200] for level in levels) == 0:
            examples = next((level.errors for level in levels if level.errors), [])
            return "Failed", (
                f"no request succeeded ({sum(level.requests for level in levels)} sent); first errors: "
                + "; ".join(examples[:3])
                + ". Fix the entry script or the inputs (try mlnb.score(service, input)) and profile again"
            )
        return self._measured()

    def _measured(self) -> tuple[str, str | None]:
        """Whether the samples support a recommendation: some memory, and CPU at the chosen level."""
        if not self._samples:
            return "Failed", (
                f"no CPU or memory sample was collected during the load ({self._sampler_description}), so there is "
                "nothing to recommend from; check that the service runs where its backend can measure it, and profile again"
            )
        cpu = self._recommend()[0]["cpu"]
        if math.isnan(cpu):
            level, _ = self._chosen_level()
            return "Failed", (
                f"too few CPU samples at concurrency {int(level['concurrency'])} to measure its CPU use (a level needs "
                f"two; {self._sampler_description} gave {len(self._samples)} in all); "
                "profile longer (duration_s) or with fewer concurrency levels"
            )
        return "Succeeded", None

    def cancel(self) -> None:
        """Stop the run; a temporary service is removed before the run ends."""
        self._cancel.set()

    def wait_for_profiling(self, show_output: bool = False, *, timeout_sec: float | None = None, out: TextIO | None = None) -> None:
        """Wait for the profile to finish, showing progress when asked.

        Ctrl-C (KeyboardInterrupt) stops the run, removes its temporary service, and is
        raised again.

        Args:
            show_output: print the phase, the level and the requests so far as it goes.
            timeout_sec: give up waiting after this long (the run continues).
            out: where to print (default: standard output).

        Raises:
            ProfileFailed: when the service did not start, or no request succeeded.
            TimeoutError: when ``timeout_sec`` ran out first.
        """
        stream = out or sys.stdout
        deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
        phase = ""
        last_line = 0.0
        try:
            while self._thread is not None and not self._done.is_set():
                # A line when the phase changes, and every two seconds within one.
                if show_output and (self._phase != phase or time.monotonic() - last_line > 2):
                    phase, last_line = self._phase, time.monotonic()
                    stream.write(self._progress() + "\n")
                    stream.flush()
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"profile {self.name!r} still running after {timeout_sec:g} s; wait again or cancel()")
                self._done.wait(0.25)
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait()
            raise
        if show_output:
            stream.write(f"{self.state}: {self.get_results() if self.state == 'Succeeded' else self.error}\n")
        if self.state == "Failed":
            raise ProfileFailed(f"profile {self.name!r} failed: {self.error}") from self._cause

    def _progress(self) -> str:
        level = self._levels[-1] if self._levels and self._phase == self._levels[-1].label else None
        if level is None:
            return f"[{self.name}] {self._phase}"
        elapsed = time.monotonic() - self._t0
        return (
            f"[{self.name}] {level.label}: {level.requests} requests, {level.failed} errors, "
            f"{max(0.0, self.duration_s - elapsed):.0f} s left"
        )

    # -- results -----------------------------------------------------------------------

    def _load_levels(self) -> list[_Level]:
        return [level for level in self._levels if level.label != "warm-up"]

    def _require_done(self) -> None:
        if self.state == "Running":
            raise ProfileFailed(f"profile {self.name!r} is still running; call wait_for_profiling() first")
        if self.state != "Succeeded":
            raise ProfileFailed(f"profile {self.name!r} has no results ({self.state}): {self.error}") from self._cause

    def get_results(self) -> dict[str, float]:
        """The recommended resources, as Azure gives them: ``{'cpu': 1.0, 'memoryInGB': 0.5}``.

        Raises:
            ProfileFailed: when the profile is running, failed or was cancelled.
        """
        self._require_done()
        recommendation, _ = self._recommend()
        return recommendation

    def _chosen_level(self) -> tuple[pd.Series[Any], bool]:
        """The level the CPU figure comes from, and whether it met the latency and error targets."""
        levels = self.levels
        fits = levels[(levels["p99_ms"] <= self.p99_target_ms) & (levels["error_rate"] <= MAX_ERROR_RATE)]
        if len(fits):
            return fits.iloc[-1], True
        return levels[levels["requests_per_s"] > 0].iloc[0], False

    def _recommend(self) -> tuple[dict[str, float], dict[str, str]]:
        peak = float(self.samples["memory_gb"].max())
        memory = max(0.1, _ceil_tenth(peak * (1 + self.memory_headroom)))
        chosen, fits = self._chosen_level()
        if fits:
            why = (
                f"concurrency {int(chosen['concurrency'])} is the highest level with p99 {chosen['p99_ms']:.1f} ms "
                f"<= {self.p99_target_ms:g} ms and errors <= {MAX_ERROR_RATE:.0%}; it used {chosen['cpu_cores']:.2f} cores"
            )
        else:
            why = (
                f"no level met p99 <= {self.p99_target_ms:g} ms with errors <= {MAX_ERROR_RATE:.0%}; "
                f"the lowest level, concurrency {int(chosen['concurrency'])} (p99 {chosen['p99_ms']:.1f} ms), "
                f"used {chosen['cpu_cores']:.2f} cores"
            )
        cores = float(chosen["cpu_cores"])
        cpu = max(0.1, _ceil_tenth(cores)) if not math.isnan(cores) else math.nan
        derivation = {
            "memory": f"peak {peak:.3f} GB x (1 + {self.memory_headroom:g} headroom) = "
            f"{peak * (1 + self.memory_headroom):.3f} GB, rounded up to {memory:.1f} GB",
            "cpu": f"{why}, rounded up to {cpu:.1f}",
        }
        return {"cpu": cpu, "memoryInGB": memory}, derivation

    @property
    def levels(self) -> pd.DataFrame:
        """One row per concurrency level: throughput, latency percentiles, errors, CPU, memory."""
        import numpy as np
        import pandas as pd

        samples = self.samples
        rows = []
        for level in self._load_levels():
            window = samples[(samples["time_s"] >= level.started - self._t0) & (samples["time_s"] <= level.ended - self._t0)]
            seconds = level.ended - level.started
            cpu_used = window["cpu_seconds"].iloc[-1] - window["cpu_seconds"].iloc[0] if len(window) > 1 else math.nan
            span = window["time_s"].iloc[-1] - window["time_s"].iloc[0] if len(window) > 1 else math.nan
            latencies = np.array(level.latencies_ms) if level.latencies_ms else np.array([math.nan])
            ok = level.statuses[200]
            rows.append(
                {
                    "concurrency": level.concurrency,
                    "requests": level.requests,
                    "errors": level.failed,
                    "error_rate": level.failed / level.requests if level.requests else math.nan,
                    "requests_per_s": ok / seconds if seconds > 0 else math.nan,
                    "p50_ms": float(np.percentile(latencies, 50)),
                    "p90_ms": float(np.percentile(latencies, 90)),
                    "p99_ms": float(np.percentile(latencies, 99)),
                    "cpu_cores": cpu_used / span if span and span > 0 else math.nan,
                    "cpu_ms_per_request": 1000 * cpu_used / span * seconds / level.requests
                    if level.requests and span and span > 0
                    else math.nan,
                    "peak_memory_gb": float(window["memory_gb"].max()) if len(window) else math.nan,
                    "client_cpu_cores": level.client_cpu_s / seconds if seconds > 0 else math.nan,
                    "seconds": seconds,
                }
            )
        return pd.DataFrame(rows)

    @property
    def samples(self) -> pd.DataFrame:
        """The resource samples over time: ``time_s`` (from the start of warm-up),
        ``cpu_cores`` (over the interval before the sample), ``cpu_seconds`` (cumulative),
        ``memory_gb``, ``phase`` and ``concurrency``."""
        import pandas as pd

        frame = pd.DataFrame(self._samples, columns=["time", "cpu_seconds", "memory_gb", "phase", "concurrency"])
        frame.insert(0, "time_s", frame.pop("time") - self._t0)
        frame.insert(1, "cpu_cores", frame["cpu_seconds"].diff() / frame["time_s"].diff())
        return frame

    def get_details(self) -> dict[str, Any]:
        """Everything the profile measured and how the recommendation was derived.

        Returns:
            ``name``, ``state``, ``error``, ``service``, ``backend``, ``sampler``, ``limits``,
            ``duration_s``, ``p99_target_ms``, ``memory_headroom``, ``max_error_rate``,
            ``timings`` (deploy, load, teardown seconds), ``levels`` (a list of per-level
            dicts, as in :attr:`levels`), ``errors`` (total, by status, examples), and, when
            it succeeded, ``recommendation`` and ``derivation``.
        """
        details: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "error": self.error,
            "service": self.service_name,
            "backend": self.backend,
            "sampler": self._sampler_description,
            "limits": dict(self._limits),
            "duration_s": self.duration_s,
            "p99_target_ms": self.p99_target_ms,
            "memory_headroom": self.memory_headroom,
            "max_error_rate": MAX_ERROR_RATE,
            "timings": {**self._timings, "load_s": sum(level.ended - level.started for level in self._levels)},
            "levels": self.levels.to_dict(orient="records"),
            "errors": self._errors(),
        }
        if self.state == "Succeeded":
            details["recommendation"], details["derivation"] = self._recommend()
        return details

    def _errors(self) -> dict[str, Any]:
        statuses: Counter[int] = Counter()
        examples: list[str] = []
        for level in self._load_levels():
            statuses.update({status: n for status, n in level.statuses.items() if status != 200})
            examples += [f"{level.label} {error}" for error in level.errors]
        return {"total": sum(statuses.values()), "by_status": dict(statuses), "examples": examples[:_ERROR_EXAMPLES]}

    # -- display -----------------------------------------------------------------------

    def plot(self) -> Figure:
        """CPU and memory over time with the levels marked; latency and throughput against concurrency.

        Raises:
            ProfileFailed: when the profile has no results.
        """
        from matplotlib.figure import Figure

        self._require_done()
        samples, levels = self.samples, self.levels
        recommendation, _ = self._recommend()
        figure = Figure(figsize=(11, 7), layout="constrained")
        grid = figure.add_gridspec(2, 2)
        usage = figure.add_subplot(grid[0, :])
        usage.plot(samples["time_s"], samples["cpu_cores"], color="tab:blue", label="CPU (cores)")
        usage.axhline(recommendation["cpu"], color="tab:blue", linestyle=":", label=f"recommended cpu {recommendation['cpu']:.1f}")
        usage.set_xlabel("time (s)")
        usage.set_ylabel("CPU (cores)", color="tab:blue")
        memory = usage.twinx()
        memory.plot(samples["time_s"], samples["memory_gb"], color="tab:red", label="memory (GB)")
        memory.axhline(recommendation["memoryInGB"], color="tab:red", linestyle=":", label=f"recommended {recommendation['memoryInGB']:.1f} GB")
        memory.set_ylabel("memory (GB)", color="tab:red")
        memory.set_ylim(bottom=0)
        usage.set_ylim(bottom=0)
        for index, level in enumerate(self._levels):
            usage.axvspan(level.started - self._t0, level.ended - self._t0, color="grey", alpha=0.08 if index % 2 else 0.18, lw=0)
            middle = (level.started + level.ended) / 2 - self._t0
            usage.text(middle, 1.0, level.label, transform=usage.get_xaxis_transform(), ha="center", va="bottom", fontsize=8)
        handles = usage.get_legend_handles_labels()[0] + memory.get_legend_handles_labels()[0]
        usage.legend(handles=handles, loc="lower right", fontsize=8)

        latency = figure.add_subplot(grid[1, 0])
        for column in ("p50_ms", "p90_ms", "p99_ms"):
            latency.plot(levels["concurrency"], levels[column], marker="o", label=column.replace("_ms", ""))
        latency.axhline(self.p99_target_ms, color="black", linestyle="--", label=f"p99 target {self.p99_target_ms:g} ms")
        latency.set_xscale("log", base=2)
        latency.set_xlabel("concurrency")
        latency.set_ylabel("latency (ms)")
        latency.legend(fontsize=8)

        throughput = figure.add_subplot(grid[1, 1])
        throughput.plot(levels["concurrency"], levels["requests_per_s"], marker="o", color="tab:green", label="successful requests/s")
        errors = levels[levels["errors"] > 0]
        if len(errors):
            throughput.scatter(errors["concurrency"], errors["requests_per_s"], color="red", zorder=3, label="level with errors")
        throughput.set_xscale("log", base=2)
        throughput.set_xlabel("concurrency")
        throughput.set_ylabel("requests/s")
        throughput.set_ylim(bottom=0)
        throughput.legend(fontsize=8)
        figure.suptitle(f"profile {self.name} ({self.backend})")
        return figure

    def __repr__(self) -> str:
        result = f", results={self.get_results()}" if self.state == "Succeeded" else ""
        return f"ModelProfile(name={self.name!r}, state={self.state!r}{result})"

    def _repr_html_(self) -> str:
        title = f"ModelProfile {self.name}"
        if self.state != "Succeeded":
            rows: list[tuple[str, object]] = [("state", _html.state(self.state))]
            if self.error:
                rows.append(("error", self.error))
            return _html.card(title, rows)
        recommendation, derivation = self._recommend()
        errors = self._errors()
        fields: list[tuple[str, object]] = [
            ("state", _html.state(self.state)),
            ("recommended", _html.code(str(recommendation))),
            ("memory", derivation["memory"]),
            ("cpu", derivation["cpu"]),
        ]
        if errors["total"]:
            fields.append(("errors", f"{errors['total']} requests failed ({errors['by_status']}): {'; '.join(errors['examples'][:2])}"))
        if self._figure_png is None:
            buffer = io.BytesIO()
            self.plot().savefig(buffer, format="png", dpi=80)
            self._figure_png = buffer.getvalue()
        levels = _html.frame(self.levels.round(3), empty="no level ran")
        return _html.card(title, fields, footer=levels + _html.image(self._figure_png, alt="CPU, memory and latency of the profile"))


def profile_model(
    workspace: Workspace,
    profile_name: str,
    models: Sequence[Model | str],
    inference_config: InferenceConfig,
    input_data: Any,
    cpu: float | None = None,
    memory_in_gb: float | None = None,
    duration_s: float | None = None,
    concurrency: Sequence[int] | None = None,
    *,
    backend: str = "auto",
    p99_target_ms: float = DEFAULT_P99_TARGET_MS,
    memory_headroom: float = DEFAULT_MEMORY_HEADROOM,
) -> ModelProfile:
    """Deploy a temporary service, profile it, and remove it; see :meth:`mlnb.Model.profile`."""
    check_workspace(workspace)
    validate_service_name(profile_name)
    config = LocalWebservice.deploy_configuration(cpu_cores=cpu, memory_gb=memory_in_gb, backend=backend)
    profile = ModelProfile(
        profile_name,
        input_data,
        duration_s=duration_s,
        concurrency=concurrency,
        p99_target_ms=p99_target_ms,
        memory_headroom=memory_headroom,
    )
    profile._limits = {"cpu": cpu, "memoryInGB": memory_in_gb}
    # Deploying only starts the service (a Docker build goes on in the background), so
    # mistakes such as a taken name or an unknown model raise here, not in the run.
    service = deploy(workspace, profile_name, models, inference_config, config)
    return profile._start(lambda: service, temporary=True)


def profile_service(
    service: Webservice,
    input_data: Any,
    *,
    duration_s: float | None = None,
    concurrency: Sequence[int] | None = None,
    p99_target_ms: float = DEFAULT_P99_TARGET_MS,
    memory_headroom: float = DEFAULT_MEMORY_HEADROOM,
) -> ModelProfile:
    """Profile a service that is already deployed; it is left running afterwards.

    The profile starts at once in a background thread; follow it with
    ``wait_for_profiling(show_output=True)``. The service's own CPU and memory limits
    stay as they are, and are what the profile measures under.

    Args:
        service: a Healthy service.
        input_data: sample requests: a list of JSON strings (or objects), a DataFrame (one
            request per row), or the path of a ``.jsonl`` (one request per line) or ``.csv``
            file (one request per row).
        duration_s: the budget for warm-up and load together (default 30 s).
        concurrency: the levels, e.g. ``(1, 2, 4)``; default ``(1, 2, 4, 8)``.
        p99_target_ms: the p99 latency the CPU recommendation must keep (default 100 ms).
        memory_headroom: the fraction added to the peak memory (default 0.25).

    Returns:
        The running profile.

    Raises:
        InvalidConfiguration: for empty or unreadable inputs, or invalid options.

    Example:
        >>> profile = profile_service(service, [json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})], duration_s=20)
        >>> profile.wait_for_profiling(True)
        >>> profile.get_results()
    """
    profile = ModelProfile(
        f"profile-{service.name}",
        input_data,
        duration_s=duration_s,
        concurrency=concurrency,
        p99_target_ms=p99_target_ms,
        memory_headroom=memory_headroom,
    )
    return profile._start(lambda: service, temporary=False)


def parse_concurrency(text: str) -> list[int]:
    """Read concurrency levels written as ``"1,2,4"`` (the magics' and CLI's option).

    Raises:
        InvalidConfiguration: when a level is not an integer.
    """
    try:
        return [int(level) for level in text.split(",")]
    except ValueError:
        raise InvalidConfiguration(f"--concurrency takes integers separated by commas, e.g. 1,2,4 (not {text!r})") from None


def prepare_inputs(input_data: Any) -> list[Any]:
    """The sample requests in ``input_data``, one item per request (encoded later, per service).

    Raises:
        InvalidConfiguration: when there is no request, or a file cannot be read.
    """
    import pandas as pd

    if isinstance(input_data, (str, Path)) and Path(input_data).suffix in (".jsonl", ".csv"):
        path = Path(input_data)
        if not path.is_file():
            raise InvalidConfiguration(f"input file {str(path)!r} does not exist; pass a .jsonl or .csv file, or a list of JSON strings")
        if path.suffix == ".jsonl":
            input_data = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            input_data = pd.read_csv(path)
    items: list[Any]
    if isinstance(input_data, pd.DataFrame):
        items = [input_data.iloc[[row]] for row in range(len(input_data))]
    elif isinstance(input_data, (str, bytes)):
        items = [input_data]
    elif isinstance(input_data, Sequence):
        items = list(input_data)
    else:
        raise InvalidConfiguration(
            f"input_data must be a list of JSON strings, a DataFrame, or a .jsonl/.csv path (not {type(input_data).__name__})"
        )
    if not items:
        raise InvalidConfiguration("input_data holds no request; give at least one sample request")
    return items


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not value > 0:
        raise InvalidConfiguration(f"invalid value for {name}, expected a positive number (not {value!r})")
    return float(value)


def _ceil_tenth(value: float) -> float:
    # The tolerance keeps a value that is a tenth up to float noise (0.30000000000000004) at that tenth.
    return math.ceil(value * 10 - 1e-6) / 10
