"""The outage of a successful update, reload and key change, on the process and Docker backends.

Run: ``MLNB_BASE_IMAGE=mlnb-base:bookworm .venv/bin/python bench/update.py`` (``--backend
process`` skips Docker; ``--rounds N`` repeats each change N times, default 3).

The demo model is deployed with auth on; then, while three clients each send a scoring
request every 20 ms, each change is made and waited for (``wait_for_deployment``), and
the clients go on for another second:

- plain: a new connection per request, no retry (``curl``, ``requests`` without a session);
- retry-once: the same, retrying a refused connection once after 20 ms;
- keep-alive: one ``mlnb.ScoringClient`` connection (it retries a request once on a fresh
  connection when the server closed the old one, as HTTP clients do).

For each change and client it prints the requests sent, those that failed (an error or a
status other than 200), and the longest time between two answered requests, the worst
over the rounds. "none" is the same measurement with no change, to show what the
machine's own load does to the gaps.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import InferenceConfig, LocalWebservice, Model, ScoringClient, Webservice, Workspace
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model

INTERVAL_S = 0.02
AFTER_S = 1.0
CLIENTS = ("plain", "retry-once", "keep-alive")


@dataclass
class Tally:
    """What one client saw during one change."""

    sent: int = 0
    failed: int = 0
    longest_gap: float = 0.0
    errors: set[str] = field(default_factory=set)


class Client(multiprocessing.Process):
    """Scores every 20 ms until stopped; counts failures and the longest gap between answers.

    A process of its own, so the engine's work in the bench's process (dependency
    inference, staging) cannot hold up its requests and pass for an outage.
    """

    def __init__(self, kind: str, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.kind, self.port, self.key = kind, port, key
        self.body = json.dumps(SEED_REQUEST).encode()
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self.stop = multiprocessing.Event()
        self._results: multiprocessing.Queue[Tally] = multiprocessing.Queue()

    def _fresh(self) -> str | None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", "/score", body=self.body, headers=self.headers)
            response = connection.getresponse()
            response.read()
            return None if response.status == 200 else f"HTTP {response.status}"
        except ConnectionRefusedError:
            return "refused"
        except OSError as error:
            return type(error).__name__
        finally:
            connection.close()

    def run(self) -> None:
        tally = Tally()
        keep_alive = ScoringClient(f"http://127.0.0.1:{self.port}/score", key=self.key, timeout=30) if self.kind == "keep-alive" else None
        last_ok = time.monotonic()
        while not self.stop.is_set():
            started = time.monotonic()
            if keep_alive is not None:
                result = keep_alive.post(self.body)
                problem = None if result.status == 200 else (result.error or f"HTTP {result.status}").split(":")[0]
            else:
                problem = self._fresh()
                if problem == "refused" and self.kind == "retry-once":
                    time.sleep(INTERVAL_S)
                    problem = self._fresh()
            now = time.monotonic()
            tally.sent += 1
            if problem is None:
                tally.longest_gap = max(tally.longest_gap, now - last_ok)
                last_ok = now
            else:
                tally.failed += 1
                tally.errors.add(problem)
            self.stop.wait(max(0.0, INTERVAL_S - (now - started)))
        if keep_alive is not None:
            keep_alive.close()
        self._results.put(tally)

    def result(self) -> Tally:
        """Stop, and return what the client saw."""
        self.stop.set()
        tally = self._results.get(timeout=60)
        self.join(60)
        return tally


def measure(service: Webservice, change: Callable[[], None]) -> dict[str, Tally]:
    clients = [Client(kind, service.port, service.get_keys()[1]) for kind in CLIENTS]
    for client in clients:
        client.start()
    time.sleep(AFTER_S)
    change()
    service.wait_for_deployment(timeout_sec=900)
    time.sleep(AFTER_S)
    return {client.kind: client.result() for client in clients}


def bench_backend(backend: str, folder: Path, rounds: int) -> dict[str, dict[str, Tally]]:
    ws = Workspace.create(folder / backend)
    model = Model.register(ws, train_diabetes_model(folder / backend / "model" / "sklearn_regression_model.pkl"),
                           "sklearn_regression_model", model_framework=Model.Framework.SCIKITLEARN)
    source = folder / backend / "src"
    source.mkdir(parents=True)
    (source / "score.py").write_text(ENTRY_SCRIPT)
    config = InferenceConfig("score.py", source_directory=source)
    service = Model.deploy(ws, "outage", [model], config, LocalWebservice.deploy_configuration(backend=backend, auth_enabled=True))
    service.wait_for_deployment(timeout_sec=900)

    def edit() -> None:
        (source / "score.py").write_text(ENTRY_SCRIPT + f"\n# edit {uuid.uuid4().hex}\n")

    def update() -> None:
        edit()
        service.update(inference_config=config)

    def reload() -> None:
        edit()
        service.reload()

    changes: dict[str, Callable[[], None]] = {
        "none": lambda: None,
        "update": update,
        "reload": reload,
        "regen_key": lambda: service.regen_key("Primary"),
    }
    results: dict[str, dict[str, Tally]] = {}
    try:
        for name, change in changes.items():
            worst = {kind: Tally() for kind in CLIENTS}
            for _ in range(rounds):
                for kind, tally in measure(service, change).items():
                    total = worst[kind]
                    total.sent += tally.sent
                    total.failed += tally.failed
                    total.longest_gap = max(total.longest_gap, tally.longest_gap)
                    total.errors |= tally.errors
            results[name] = worst
            print(f"{backend}: {name} done", file=sys.stderr, flush=True)
    finally:
        service.delete()
        if backend == "docker":  # the images of a throw-away workspace are no cache for anyone
            from mlnb.image import connect

            client = connect()
            for image in client.images.list(filters={"label": f"mlnb.workspace={ws.path}"}):
                client.images.remove(image.id, force=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["docker", "process", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backends = ["process", "docker"] if args.backend == "both" else [args.backend]
    print(f"base image: {os.environ.get('MLNB_BASE_IMAGE', 'python:3.11-slim')}; {args.rounds} round(s) per change; "
          f"a request every {INTERVAL_S * 1000:.0f} ms per client")
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-update-") as tmp:
        table = {backend: bench_backend(backend, Path(tmp), args.rounds) for backend in backends}
    print(f"\n{'backend':<9}{'change':<11}{'client':<12}{'requests':>9}{'failed':>8}{'longest gap':>13}  errors")
    for backend, changes in table.items():
        for change, clients in changes.items():
            for kind, tally in clients.items():
                errors = ", ".join(sorted(tally.errors)) or "-"
                print(f"{backend:<9}{change:<11}{kind:<12}{tally.sent:>9}{tally.failed:>8}{tally.longest_gap * 1000:>10.0f} ms  {errors}")


if __name__ == "__main__":
    main()
