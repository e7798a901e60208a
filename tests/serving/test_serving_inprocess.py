"""In-process pieces: model paths, loading scripts again, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCRIPTS

from mlnb.serving import main
from mlnb.serving.entry_script import EntryScriptError, InputMode, load_entry_script
from mlnb.serving.model_path import ModelPathNotFound, get_model_path
from mlnb.serving.settings import parse_settings


@pytest.fixture
def models(tmp_path: Path) -> Path:
    for name, version, files in (("a", 1, ["a.pkl"]), ("a", 2, ["a.pkl"]), ("b", 1, ["x.bin", "y.bin"]),
                                 ("c", 3, [])):
        folder = tmp_path / name / str(version)
        folder.mkdir(parents=True)
        for file in files:
            (folder / file).write_text("m")
    (tmp_path / "c" / "3" / "model_folder").mkdir()
    return tmp_path


def test_model_path_multi_model_layout(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(models))
    assert get_model_path("a") == str(models / "a" / "2" / "a.pkl")
    assert get_model_path("a", version=1) == str(models / "a" / "1" / "a.pkl")
    assert get_model_path("b") == str(models / "b" / "1")  # several files: the folder
    assert get_model_path("c") == str(models / "c" / "3" / "model_folder")  # one folder artifact
    with pytest.raises(ModelPathNotFound, match=r"version 9 .*deployed versions: 1, 2"):
        get_model_path("a", version=9)
    with pytest.raises(LookupError, match=r"'zzz' is not deployed.*deployed models: a, b, c"):
        get_model_path("zzz")


def test_model_path_single_model_layout_and_alias(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    monkeypatch.setenv("MLNB_MODEL_DIR", str(models / "a" / "1"))
    assert get_model_path("a", 1) == str(models / "a" / "1" / "a.pkl")
    monkeypatch.delenv("MLNB_MODEL_DIR")
    with pytest.raises(ModelPathNotFound, match="AZUREML_MODEL_DIR"):
        get_model_path("a")


def test_entry_scripts_load_again_in_the_same_process(tmp_path: Path) -> None:
    first = load_entry_script(SCRIPTS / "schema_numpy.py")
    second = load_entry_script(SCRIPTS / "schema_numpy.py")  # output_schema would raise without the purge
    assert first.mode is second.mode is InputMode.SCHEMA
    assert second.schema is not None and second.schema.output_swagger is not None
    raw_http = tmp_path / "rh.py"
    raw_http.write_text("from mlnb.serving.amlhttp import rawhttp\n@rawhttp\ndef run(request):\n    return 1\n")
    assert load_entry_script(raw_http).mode is InputMode.RAWHTTP
    assert load_entry_script(SCRIPTS / "raw.py").mode is InputMode.RAW  # the rawhttp flag was reset
    second.init()
    assert second.call(**second.schema.convert({"data": [[1] * 10]})).tolist() == [55.0]


def test_script_without_run_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("def init():\n    pass\n")
    with pytest.raises(EntryScriptError, match="run"):
        load_entry_script(empty)


def test_flags_win_over_environment(tmp_path: Path) -> None:
    env_keys, flag_keys = tmp_path / "env-keys", tmp_path / "flag-keys"
    for path, keys in ((env_keys, "e1\n"), (flag_keys, "k1\nk2\n")):
        path.write_text(keys)
        path.chmod(0o600)
    env = {"AZUREML_ENTRY_SCRIPT": "env.py", "WORKER_COUNT": "3", "SCORING_TIMEOUT_MS": "900",
           "AML_CORS_ORIGINS": "http://a, http://b", "AML_APP_ROOT": "/srv/app", "AZUREML_MODEL_DIR": "/m",
           "MLNB_AUTH_KEYS_FILE": str(env_keys), "MLNB_ALLOWED_HOSTS": "a.example, B.example",
           "MLNB_ACCESS_LOG": "1", "MLNB_BODY_TIMEOUT_S": "7.5"}
    from_env = parse_settings([], env)
    assert (from_env.entry_script, from_env.workers, from_env.timeout_ms) == ("env.py", 3, 900)
    assert from_env.cors_origins == ("http://a", "http://b")
    assert (from_env.app_root, from_env.model_dir, from_env.port) == ("/srv/app", "/m", 5001)
    assert from_env.auth_keys() == ("e1",) and from_env.access_log
    assert from_env.allowed_hosts == ("a.example", "b.example")
    assert from_env.body_timeout_s == 7.5 and parse_settings(["--entry-script", "f.py"], {}).body_timeout_s is None
    flags = parse_settings(["--entry-script", "f.py", "--workers", "2", "--timeout-ms", "5",
                            "--auth-keys-file", str(flag_keys), "--max-body-mb", "1.5",
                            "--allowed-hosts", "*", "--body-timeout-s", "2"], env)
    assert (flags.entry_script, flags.workers, flags.timeout_ms) == ("f.py", 2, 5)
    assert flags.auth_keys() == ("k1", "k2") and flags.max_body_mb == 1.5
    assert flags.allowed_hosts == ("*",) and flags.body_timeout_s == 2
    with pytest.raises(SystemExit):
        parse_settings(["--entry-script", "f.py", "--body-timeout-s", "0"], {})
    assert "k1" not in flags.to_json()  # workers get the file's path, never a key


def test_missing_entry_script_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_settings([], {})
    assert exc.value.code == 2
    monkeypatch.delenv("AZUREML_ENTRY_SCRIPT", raising=False)
    assert main([]) == 2
    assert main(["--help"]) == 0
