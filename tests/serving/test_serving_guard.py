"""The Host check (DNS rebinding) and the cross-site guard, over HTTP."""

from __future__ import annotations

import pytest
import requests
from conftest import Server, script

from mlnb.serving._guard import is_loopback_host


@pytest.fixture(scope="module")
def loopback(launch: object) -> Server:
    return launch(["--entry-script", script("raw.py"), "--cors-origins", "http://allowed.example"])  # type: ignore[operator]


@pytest.mark.parametrize("host", ["localhost", "localhost:5001", "127.0.0.1", "127.0.0.1:9", "127.1.2.3:80",
                                  "[::1]", "[::1]:5001", "app.localhost:8080", "LOCALHOST."])
def test_loopback_host_names_are_accepted(loopback: Server, host: str) -> None:
    assert requests.get(f"{loopback.url}/", headers={"Host": host}).status_code == 200
    assert requests.post(loopback.score_url, data="x", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5001", "127.0.0.1.evil.example", "10.0.0.1"])
def test_other_host_names_are_refused_on_loopback(loopback: Server, host: str) -> None:
    for response in (requests.get(f"{loopback.url}/ready", headers={"Host": host}),
                     requests.post(loopback.score_url, data="x", headers={"Host": host})):
        assert response.status_code == 421
        assert "--allowed-hosts" in response.json()["message"]


def test_allowed_hosts_from_the_environment(launch: object) -> None:
    server = launch(["--entry-script", script("raw.py")], env={"MLNB_ALLOWED_HOSTS": "svc.example, other.example"})  # type: ignore[operator]
    assert requests.get(f"{server.url}/", headers={"Host": "svc.example:5001"}).status_code == 200
    assert requests.get(f"{server.url}/", headers={"Host": "localhost"}).status_code == 200
    assert requests.get(f"{server.url}/", headers={"Host": "evil.example"}).status_code == 421
    star = launch(["--entry-script", script("raw.py"), "--allowed-hosts", "*"])  # type: ignore[operator]
    assert requests.get(f"{star.url}/", headers={"Host": "evil.example"}).status_code == 200


def test_any_host_when_bound_to_all_addresses(launch: object) -> None:
    # Containers bind 0.0.0.0: clients come as 127.0.0.1:PORT, tasks.NAME, container names ...
    server = launch(["--entry-script", script("raw.py"), "--host", "0.0.0.0"])  # type: ignore[operator]
    for host in ("tasks.myservice", "mlnb-myservice:5001", "127.0.0.1:6789"):
        assert requests.post(server.score_url, data="x", headers={"Host": host}).status_code == 200


def test_cross_site_simple_post_is_refused(loopback: Server) -> None:
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        response = requests.post(loopback.score_url, data="x", headers={"Content-Type": "text/plain", **headers})
        assert response.status_code == 403, headers
        assert "--cors-origins" in response.json()["message"]
    get = requests.get(loopback.score_url, params={"a": "1"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert get.status_code == 403  # an <img src=...> runs run() too


def test_allowed_and_same_origin_requests_pass(loopback: Server) -> None:
    allowed = requests.post(loopback.score_url, data="x", headers={
        "Origin": "http://allowed.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    same = requests.post(loopback.score_url, data="x", headers={"Origin": loopback.url, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200
    typed = requests.post(loopback.score_url, data="x", headers={"Sec-Fetch-Site": "none"})  # the user typed the URL
    assert typed.status_code == 200


def test_any_origin_with_cors_star(launch: object) -> None:
    server = launch(["--entry-script", script("raw.py"), "--cors-origins", "*"])  # type: ignore[operator]
    response = requests.post(server.score_url, data="x", headers={"Origin": "http://anyone.example"})
    assert response.status_code == 200


def test_loopback_names() -> None:
    assert all(map(is_loopback_host, ["localhost", "a.localhost", "127.0.0.1", "127.255.0.9", "::1"]))
    assert not any(map(is_loopback_host, ["localhost.example", "128.0.0.1", "::2", "0.0.0.0", ""]))
