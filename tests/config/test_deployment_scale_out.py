"""Deployment configuration options for scale-out: registry, and the Swarm options."""

from __future__ import annotations

import pytest

from mlnb.config import DeploymentConfiguration, LocalWebservice, check_registry
from mlnb.errors import InvalidConfiguration


def test_swarm_options_round_trip_through_deploymentconfig_json_names() -> None:
    config = LocalWebservice.deploy_configuration(
        backend="swarm", replicas=3, endpoint_mode="dnsrr", network="scoring", init_swarm=True, registry="127.0.0.1:5000/team"
    )

    data = config.serialize()
    assert (data["replicas"], data["endpointMode"], data["network"], data["initSwarm"]) == (3, "dnsrr", "scoring", True)
    assert data["registry"] == "127.0.0.1:5000/team"
    assert DeploymentConfiguration.deserialize(data) == config


def test_auth_defaults_on_for_swarm_only() -> None:
    assert LocalWebservice.deploy_configuration(backend="swarm").auth_enabled is True
    assert LocalWebservice.deploy_configuration(backend="swarm", auth_enabled=False).auth_enabled is False
    assert LocalWebservice.deploy_configuration(backend="docker").auth_enabled is False
    assert DeploymentConfiguration.deserialize({"backend": "swarm"}).auth_enabled is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "docker", "replicas": 2}, 'replicas needs backend="swarm"'),
        ({"backend": "auto", "init_swarm": True}, 'init_swarm needs backend="swarm"'),
        ({"backend": "swarm", "replicas": 0}, "invalid value for replicas"),
        ({"backend": "swarm", "replicas": True}, "invalid value for replicas"),
        ({"backend": "swarm", "endpoint_mode": "ingress"}, 'expected "vip" or "dnsrr"'),
        ({"backend": "swarm", "network": "bad name"}, "invalid value for network"),
        ({"registry": "https://registry.example.com"}, "invalid value for registry"),
    ],
)
def test_invalid_scale_out_options_say_what_to_change(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message):
        DeploymentConfiguration(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("registry", ["127.0.0.1:5000", "localhost:5000/a/b", "registry.example.com/team", "myuser"])
def test_registry_names_that_docker_accepts(registry: str) -> None:
    assert check_registry(registry) == registry
