"""Manifests on disk: stable files, owner-only keys, and nothing a user wrote is lost."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlnb.errors import InvalidConfiguration
from mlnb.kube import KubeSpec, render_manifests, write_manifests

IMAGE = "registry.example.com/diabetes:3"
KEYS = ["primary-key-0123456789", "secondary-key-9876543210"]
AUTH = KubeSpec("diabetes", IMAGE, auth_enabled=True, labels={"team": "fraud"})
PLAIN = KubeSpec("diabetes", IMAGE)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


@pytest.fixture(params=[0o000, 0o077], ids=["umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_one_file_per_kind_plus_the_kustomize_base(tmp_path: Path) -> None:
    written = write_manifests(AUTH, tmp_path / "k8s", keys=KEYS)

    assert [p.name for p in written] == [
        "secret.yaml", "deployment.yaml", "service.yaml", "horizontalpodautoscaler.yaml", "poddisruptionbudget.yaml",
        "kustomization.yaml", "README.md", ".gitignore", ".mlnb-manifests",
    ]
    assert sorted(p.name for p in (tmp_path / "k8s").iterdir()) == sorted(p.name for p in written)
    assert all(p.parent == tmp_path / "k8s" for p in written)


def test_the_files_hold_exactly_the_rendered_manifests(tmp_path: Path) -> None:
    write_manifests(AUTH, tmp_path / "k8s", keys=KEYS)
    kustomization = yaml.safe_load((tmp_path / "k8s" / "kustomization.yaml").read_text())

    on_disk = [yaml.safe_load((tmp_path / "k8s" / name).read_text()) for name in kustomization["resources"]]

    assert on_disk == render_manifests(AUTH, keys=KEYS)


def test_the_kustomization_lists_every_manifest_and_labels_everything(tmp_path: Path) -> None:
    write_manifests(KubeSpec("diabetes", IMAGE, labels={"team": "fraud"}, namespace="ml"), tmp_path / "k8s")
    kustomization = yaml.safe_load((tmp_path / "k8s" / "kustomization.yaml").read_text())

    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "ml"
    assert kustomization["resources"] == ["deployment.yaml", "service.yaml", "horizontalpodautoscaler.yaml", "poddisruptionbudget.yaml"]
    assert kustomization["labels"] == [
        {"pairs": {"app.kubernetes.io/managed-by": "mlnb", "team": "fraud"}, "includeSelectors": False, "includeTemplates": True},
    ]


def test_the_keys_file_is_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    folder = tmp_path / "k8s"
    write_manifests(AUTH, folder, keys=KEYS)

    assert mode(folder / "secret.yaml") == 0o600
    for path in folder.iterdir():
        if path.name != "secret.yaml":
            assert mode(path) == 0o644, path.name
    assert mode(folder) == 0o755


def test_no_key_is_written_outside_the_secret(tmp_path: Path) -> None:
    folder = tmp_path / "k8s"
    write_manifests(AUTH, folder, keys=KEYS)
    encoded = yaml.safe_load((folder / "secret.yaml").read_text())["data"]["keys"]
    assert base64.b64decode(encoded).decode().splitlines() == KEYS

    for path in folder.iterdir():
        if path.name == "secret.yaml":
            continue
        text = path.read_text()
        for secret in (*KEYS, encoded, *(base64.b64encode(k.encode()).decode() for k in KEYS)):
            assert secret not in text, path.name


def test_the_readme_says_where_the_secrets_are_and_git_ignores_them(tmp_path: Path) -> None:
    write_manifests(AUTH, tmp_path / "auth", keys=KEYS)
    write_manifests(PLAIN, tmp_path / "plain")

    readme = (tmp_path / "auth" / "README.md").read_text()
    assert "kubectl apply -k" in readme and IMAGE in readme
    assert "**`secret.yaml` contains secrets**" in readme
    assert (tmp_path / "auth" / ".gitignore").read_text().splitlines()[-1] == "secret.yaml"
    assert "secret.yaml" not in (tmp_path / "plain" / "README.md").read_text()
    assert not (tmp_path / "plain" / ".gitignore").exists()
    assert not (tmp_path / "plain" / "secret.yaml").exists()


def test_the_same_spec_gives_byte_identical_files(tmp_path: Path) -> None:
    write_manifests(AUTH, tmp_path / "a", keys=KEYS)
    write_manifests(AUTH, tmp_path / "b", keys=KEYS)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_its_own_output_is_replaced_as_a_whole(tmp_path: Path) -> None:
    folder = tmp_path / "k8s"
    write_manifests(AUTH, folder, keys=KEYS)

    write_manifests(PLAIN, folder)

    assert not (folder / "secret.yaml").exists()
    assert "--auth-keys-file" not in (folder / "deployment.yaml").read_text()
    assert siblings(folder) == ["k8s"]


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    write_manifests(PLAIN, tmp_path / "k8s")
    assert (tmp_path / "k8s" / "deployment.yaml").is_file()


def test_a_directory_of_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")

    with pytest.raises(InvalidConfiguration, match="is not empty and was not written by mlnb; .* overwrite=True"):
        write_manifests(PLAIN, folder)

    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    assert siblings(folder) == ["notes"]


def test_overwrite_replaces_a_directory_of_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("replace me")

    write_manifests(PLAIN, folder, overwrite=True)

    assert not (folder / "mine.txt").exists()
    assert (folder / "deployment.yaml").is_file()
    assert siblings(folder) == ["notes"]


def test_a_failure_leaves_the_previous_manifests_as_they_were(tmp_path: Path) -> None:
    folder = tmp_path / "k8s"
    write_manifests(AUTH, folder, keys=KEYS)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    with pytest.raises(InvalidConfiguration, match="auth_enabled is True"):
        write_manifests(AUTH, folder)

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert siblings(folder) == ["k8s"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k8s").write_text("a file")
    with pytest.raises(InvalidConfiguration, match="is a file; choose a directory"):
        write_manifests(PLAIN, tmp_path / "k8s", overwrite=True)
    assert (tmp_path / "k8s").read_text() == "a file"


def test_the_current_directory_or_a_parent_of_it_is_refused_even_with_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "analysis.ipynb").write_text("{}")
    monkeypatch.chdir(project / "notebooks")

    for target in (".", "..", str(project)):
        with pytest.raises(InvalidConfiguration, match="contains the current directory"):
            write_manifests(PLAIN, target, overwrite=True)
    assert (project / "notebooks" / "analysis.ipynb").read_text() == "{}"


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    written = write_manifests(PLAIN, tmp_path / "deploy" / "k8s" / "diabetes")
    assert written[0] == tmp_path / "deploy" / "k8s" / "diabetes" / "deployment.yaml"
