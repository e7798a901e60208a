"""The image mlnb builds runs under the rendered pod's constraints, in a real container.

No cluster runs here, so the Deployment's pod is translated into what Docker enforces
the same way: the user and groups, a read-only root filesystem with a tmpfs for each
``emptyDir``, every capability dropped, no privilege escalation, the CPU and memory
limits, the container's command, and the keys Secret as the kubelet mounts it (a
read-only file owned by root, group ``fsGroup``, mode ``defaultMode``). Then the probes'
routes and ``/score`` are called.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from mlnb.config import InferenceConfig
from mlnb.image import assemble_context
from mlnb.kube import KubeSpec, render_manifests, resources_from_recommendation
from mlnb.kube._resources import parse_quantity

pytestmark = pytest.mark.docker

SCORE = """\
import json
import os
import tempfile


def init():
    pass


def run(raw_data):
    with tempfile.NamedTemporaryFile(dir="/tmp") as scratch:
        scratch.write(b"the server may write here")
    try:
        with open(os.path.join(os.environ["AML_APP_ROOT"], "written"), "w"):
            pass
        root_writable = True
    except OSError:
        root_writable = False
    return {"echo": json.loads(raw_data), "uid": os.getuid(), "gid": os.getgid(), "root_writable": root_writable}
"""
KEYS = ["primary-key-0123456789", "secondary-key-9876543210"]
RESOURCES = resources_from_recommendation({"cpu": 0.5, "memoryInGB": 0.25})


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An image of an entry script with no dependencies, built as mlnb builds every image."""
    folder = tmp_path_factory.mktemp("kube-image")
    (folder / "src").mkdir()
    (folder / "src" / "score.py").write_text(SCORE)
    context = assemble_context(
        [], InferenceConfig("score.py", source_directory=folder / "src"), target_dir=folder / "context",
        wheelhouse_cache=folder / "cache", base_image=base_image, log=lambda _: None, requirements=[],
    )
    tag = f"mlnb-test-kube:{uuid.uuid4().hex[:12]}"
    created = [tag]
    log = ""
    try:
        for chunk in docker_client.api.build(path=str(context.directory), tag=tag, rm=True, forcerm=True, decode=True):
            if "error" in chunk:
                pytest.fail(f"docker build failed: {chunk['error']}\n{log}")
            log += chunk.get("stream", "")
        # The classic builder keeps the dependencies stage as an untagged image: remove it too.
        second_from = [m.start() for m in re.finditer(r"Step \d+/\d+ : FROM", log)][1]
        created += re.findall(r" ---> ([0-9a-f]{12})", log[:second_from])[-1:]
        yield tag
    finally:
        for name in created:
            try:
                docker_client.images.remove(name, force=True)
            except (docker.errors.ImageNotFound, docker.errors.APIError):
                pass


def run_like_the_pod(client: docker.DockerClient, tag: str, manifests: list[dict[str, Any]], secrets: Path) -> Any:
    """Start ``tag`` under the Deployment's pod constraints; return the container."""
    pod = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pod_context, context = pod["securityContext"], container["securityContext"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    tmpfs: dict[str, str] = {}
    binds: dict[str, dict[str, str]] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            tmpfs[mount["mountPath"]] = f"size={int(parse_quantity(volume['emptyDir']['sizeLimit']))}"
        else:
            secret = next(m for m in manifests if m["kind"] == "Secret")
            binds[str(_mount_secret(secret, volume["secret"], pod_context["fsGroup"], secrets))] = {
                "bind": mount["mountPath"], "mode": "ro",
            }
    limits = container["resources"]["limits"]
    port = container["ports"][0]["containerPort"]
    return client.containers.run(
        tag,
        entrypoint=container.get("command"),
        command=container.get("args"),
        detach=True,
        name=f"mlnb-test-kube-{uuid.uuid4().hex[:12]}",
        user=f"{pod_context['runAsUser']}:{pod_context['runAsGroup']}",
        group_add=[str(pod_context["fsGroup"])],
        read_only=context["readOnlyRootFilesystem"],
        cap_drop=context["capabilities"]["drop"],
        security_opt=[] if context["allowPrivilegeEscalation"] else ["no-new-privileges"],
        privileged=context["privileged"],
        mem_limit=int(parse_quantity(limits["memory"])),
        nano_cpus=int(parse_quantity(limits["cpu"]) * 10**9),
        environment={variable["name"]: variable["value"] for variable in container.get("env", [])},
        tmpfs=tmpfs,
        volumes=binds,
        ports={f"{port}/tcp": ("127.0.0.1", None)},
    )


def _mount_secret(secret: dict[str, Any], source: dict[str, Any], group: int, folder: Path) -> Path:
    """Write the Secret's items as the kubelet does: root-owned, group ``fsGroup``, ``defaultMode``."""
    folder.mkdir()
    folder.chmod(0o755)
    for item in source["items"]:
        path = folder / item["path"]
        path.write_bytes(base64.b64decode(secret["data"][item["key"]]))
        os.chown(path, 0, group)
        os.chmod(path, source["defaultMode"])
    return folder


def wait_for(url: str, container: Any, path: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            pytest.fail(f"container exited:\n{container.logs().decode()}")
        try:
            if requests.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{path} did not answer 200 within 120 s:\n{container.logs().decode()}")


def serve(client: docker.DockerClient, image: str, spec: KubeSpec, tmp_path: Path, keys: list[str] | None) -> Iterator[tuple[str, Any]]:
    manifests = render_manifests(spec, keys=keys)
    container = run_like_the_pod(client, image, manifests, tmp_path / "secrets")
    try:
        container.reload()
        url = f"http://127.0.0.1:{container.ports[f'{spec.port}/tcp'][0]['HostPort']}"
        wait_for(url, container, spec.readiness_path)
        yield url, container
    finally:
        container.remove(force=True)


def test_the_server_answers_its_probes_and_scores_under_the_pod_constraints(
    docker_client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    spec = KubeSpec("diabetes", image, environment={"WORKER_COUNT": "2"}, **RESOURCES)
    for url, _ in serve(docker_client, image, spec, tmp_path, None):
        assert requests.get(f"{url}{spec.liveness_path}", timeout=5).status_code == 200
        assert requests.get(f"{url}{spec.readiness_path}", timeout=5).status_code == 200

        response = requests.post(f"{url}/score", data=json.dumps({"data": [1, 2]}), headers={"Content-Type": "application/json"}, timeout=30)

        assert response.status_code == 200, response.text
        assert response.json() == {"echo": {"data": [1, 2]}, "uid": 10001, "gid": 10001, "root_writable": False}


def test_the_mounted_keys_file_is_what_the_server_accepts(docker_client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    spec = KubeSpec("diabetes", image, auth_enabled=True, **RESOURCES)
    for url, _ in serve(docker_client, image, spec, tmp_path, KEYS):
        score = f"{url}/score"
        body = json.dumps({"data": [1]})

        assert requests.post(score, data=body, timeout=30).status_code == 401
        for key in KEYS:
            response = requests.post(score, data=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert response.status_code == 200, response.text
