"""Slow clients against a deployed service: the event-loop front turned on from the deployment."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace


def test_a_deployment_turns_on_the_event_loop_front_with_an_environment_variable(
    project: tuple[Workspace, Model, Path],
) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", environment_variables={"MLNB_BODY_TIMEOUT_S": "1"})
    service = Model.deploy(workspace, "patient", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    address = urlsplit(service.scoring_uri)
    assert address.hostname is not None and address.port is not None
    stalled = []
    for _ in range(4):  # more than the 2 HTTP threads of the one worker the default front has
        sock = socket.create_connection((address.hostname, address.port))
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        stalled.append(sock)
    try:
        assert requests.get(f"http://{address.netloc}/ready", timeout=3).status_code == 200
        started = time.monotonic()
        for sock in stalled:
            sock.settimeout(10)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert "--body-timeout-s" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"]
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()
    assert service.run(json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}))
    service.delete()
