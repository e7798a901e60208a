"""The serving shims: ``sklearn.externals.joblib`` and ``azureml.monitoring``, and that real modules win."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import joblib
import pytest
import requests
from conftest import Server, script
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

ROWS = [[0.038, 0.051, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.020, -0.018],
        [-0.002, -0.045, -0.051, -0.026, -0.008, -0.019, 0.074, -0.039, -0.068, -0.092]]


def run_shimmed(runtime_dir: Path, code: str, *, path_first: Path | None = None,
                env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter after ``install_azureml_shim()``; return its stdout.

    ``path_first`` goes to the front of ``sys.path``, where an installed package would be.
    """
    prelude = "import sys\n"
    if path_first is not None:
        prelude += f"sys.path.insert(0, {str(path_first)!r})\n"
    prelude += "from mlnb.serving.shim import install_azureml_shim\ninstall_azureml_shim()\n"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLNB_", "AML_", "AZUREML_"))}
    environ.update({"PYTHONPATH": str(runtime_dir), **(env or {})})
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], check=False,
                          capture_output=True, text=True,
                          env=environ, cwd=runtime_dir, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def collect_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app root with the entry script and a real scikit-learn model saved by joblib."""
    app = tmp_path_factory.mktemp("collect-app")
    shutil.copy(script("azure_collect.py"), app / "score.py")
    model_dir = app / "azureml-models" / "diabetes" / "1"
    model_dir.mkdir(parents=True)
    X, y = load_diabetes(return_X_y=True)
    joblib.dump(Ridge().fit(X, y), model_dir / "model.pkl")
    return app


@pytest.fixture(scope="module")
def collect_server(launch: Callable[..., Server], collect_app: Path) -> Server:
    return launch(["--entry-script", "score.py", "--app-root", str(collect_app), "--workers", "2",
                   "--model-dir", str(collect_app / "azureml-models" / "diabetes" / "1")])


def collected(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_entry_script_with_azure_imports_scores_and_collects(collect_server: Server, collect_app: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    expected = Ridge().fit(X, y).predict(ROWS).tolist()
    for _ in range(6):
        response = requests.post(collect_server.score_url, json={"data": ROWS})
        assert response.status_code == 200, response.text
        assert response.json() == pytest.approx(expected)

    folder = collect_app / ".mlnb-collected"
    records = collected(folder)
    inputs = [r for r in records if r["designation"] == "inputs"]
    predictions = [r for r in records if r["designation"] == "predictions"]
    assert len(inputs) == len(predictions) == 6
    first = inputs[0]
    assert set(first) == {"model_name", "designation", "feature_names", "time", "correlation_id", "data"}
    assert first["model_name"] == "diabetes"
    assert first["feature_names"] == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert first["data"] == ROWS
    assert str(first["correlation_id"]).startswith("req-")
    uuid.UUID(str(first["correlation_id"])[len("req-"):])
    assert datetime.fromisoformat(str(first["time"])).utcoffset() is not None
    assert predictions[0]["feature_names"] == ["prediction"]
    assert predictions[0]["data"] == pytest.approx(expected)
    # One file per process, named <host>-<pid>.jsonl, owner-only.
    for path in folder.glob("*.jsonl"):
        assert path.stem.rsplit("-", 1)[1].isdigit()
        assert path.stat().st_mode & 0o077 == 0
    assert folder.stat().st_mode & 0o077 == 0


def test_a_collecting_server_puts_model_data_collector_rows_in_its_parquet_files(
        launch: Callable[..., Server], collect_app: Path, tmp_path: Path) -> None:
    from mlnb.monitoring import expand_inputs, read_collected

    before = set(collect_app.glob(".mlnb-collected/*.jsonl"))
    server = launch(["--entry-script", "score.py", "--app-root", str(collect_app), "--workers", "2",
                     "--model-dir", str(collect_app / "azureml-models" / "diabetes" / "1"),
                     "--service-name", "diabetes", "--collect-dir", str(tmp_path), "--collect-interval", "0.2"])
    for _ in range(4):
        assert requests.post(server.score_url, json={"data": ROWS}).status_code == 200
    server.proc.terminate()
    server.proc.wait(30)

    frame = read_collected(tmp_path, service="diabetes")
    requests_only = frame[frame["collector"].isna()]
    assert len(requests_only) == 4 and set(requests_only["status"]) == {200}
    inputs = frame[frame["collector"] == "diabetes/inputs"]
    predictions = frame[frame["collector"] == "diabetes/predictions"]
    assert len(inputs) == len(predictions) == 4
    assert inputs["request_id"].str.startswith("req-").all() and inputs["status"].isna().all()
    assert inputs["outputs"].isna().all() and predictions["inputs"].isna().all()
    features = expand_inputs(inputs, statuses=None, feature_names=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"])
    assert features.drop(columns=["time", "request_id"]).to_numpy().tolist() == ROWS * 4
    assert json.loads(predictions["outputs"].iloc[0])["feature_names"] == ["prediction"]
    # Nothing went to the JSON-lines fallback.
    assert set(collect_app.glob(".mlnb-collected/*.jsonl")) == before


def test_collector_honours_mlnb_collect_dir_and_azure_return_values(runtime_dir: Path, tmp_path: Path) -> None:
    out = run_shimmed(runtime_dir, """
        import json, warnings
        import numpy as np, pandas as pd
        from azureml.monitoring import ModelDataCollector
        inputs = ModelDataCollector("m", designation="inputs")
        general = ModelDataCollector("m", workspace="Sub/RG/WS", model_version="3")
        correlations = inputs.collect(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            skipped = general.collect({"not": "tabular"})
        print(json.dumps({
            "correlations": correlations,
            "general": general.collect([np.int64(1), 2.5]),
            "skipped": skipped, "warned": len(caught),
            "list": general.add_correlations([1], correlations),
            "numpy": general.add_correlations(np.array([1, 2]), correlations).shape,
            "frame": list(general.add_correlations(pd.DataFrame({"a": [1]}), correlations).columns),
            "designation": general.designation,
        }))
    """, env={"MLNB_COLLECT_DIR": str(tmp_path)})
    result = json.loads(out)
    correlations = result["correlations"]
    assert set(correlations) == {"$aml_dc_correlation_id", "$aml_dc_scoring_timestamp", "$aml_dc_boundary",
                                 "$aml_workspace", "$aml_service_name", "$aml_model_name", "$aml_model_version",
                                 "$aml_request_id"}
    assert (result["general"], result["skipped"], result["warned"]) == (None, None, 1)
    assert result["list"][0] == 1 and result["list"][1] == correlations["$aml_dc_correlation_id"]
    assert len(result["list"]) == 9 and result["numpy"] == [1, 10]
    assert result["frame"][0] == "a" and result["frame"][1:4] == [
        "$aml_dc_correlation_id", "$aml_dc_scoring_timestamp", "$aml_dc_boundary"]
    assert result["designation"] == "general"
    records = collected(tmp_path)
    assert [(r["designation"], r["feature_names"], r["data"]) for r in records] == [
        ("inputs", ["a", "b"], [[1, "x"], [2, "y"]]), ("general", None, [1, 2.5])]
    assert records[0]["correlation_id"] == correlations["$aml_dc_correlation_id"]


def test_collector_rejects_an_unknown_designation(runtime_dir: Path) -> None:
    out = run_shimmed(runtime_dir, """
        from azureml.monitoring import ModelDataCollector
        try:
            ModelDataCollector("m", designation="outputs")
        except ValueError as exc:
            print(exc)
    """)
    assert "'outputs' is not one of 'default', 'inputs'" in out


def test_joblib_alias_is_joblib_and_loads_pre_0_23_pickles(runtime_dir: Path, tmp_path: Path) -> None:
    # A pickle written when joblib lived in sklearn.externals names its classes there
    # (protocol 2 spells module names out, so the old name can be written in).
    import numpy as np

    joblib.dump(np.arange(6.0), tmp_path / "new.pkl", protocol=2)
    old = (tmp_path / "new.pkl").read_bytes().replace(b"cjoblib.numpy_pickle\n",
                                                      b"csklearn.externals.joblib.numpy_pickle\n")
    assert b"sklearn.externals.joblib.numpy_pickle" in old
    (tmp_path / "old.pkl").write_bytes(old)
    out = run_shimmed(runtime_dir, f"""
        import joblib as real
        from sklearn.externals import joblib
        import sklearn.externals.joblib.numpy_pickle as numpy_pickle
        loaded = joblib.load({str(tmp_path / "old.pkl")!r})
        print(joblib is real, numpy_pickle is real.numpy_pickle, type(loaded).__name__, loaded.tolist())
    """)
    assert out.split(maxsplit=3) == ["True", "True", "ndarray", "[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]\n"]


def test_without_the_shim_scikit_learn_has_no_joblib(runtime_dir: Path) -> None:
    # What the alias is for: the installed scikit-learn no longer ships sklearn.externals.joblib.
    done = subprocess.run([sys.executable, "-c", "from sklearn.externals import joblib"], check=False,
                          capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(runtime_dir)}, timeout=120)
    assert done.returncode == 1 and "ImportError" in done.stderr


def test_an_installed_sklearn_externals_joblib_wins(runtime_dir: Path, tmp_path: Path) -> None:
    fake = write_tree(tmp_path, {"sklearn/__init__.py": "", "sklearn/externals/__init__.py": "",
                                 "sklearn/externals/joblib/__init__.py": "WHO = 'installed'\n",
                                 "sklearn/externals/joblib/numpy_pickle.py": "WHO = 'installed submodule'\n"})
    out = run_shimmed(runtime_dir, """
        from sklearn.externals import joblib
        from sklearn.externals.joblib import numpy_pickle
        print(joblib.WHO, "/", numpy_pickle.WHO)
    """, path_first=fake)
    assert out.strip() == "installed / installed submodule"


def test_an_installed_azureml_monitoring_wins(runtime_dir: Path, tmp_path: Path) -> None:
    # Laid out as azureml-monitoring installs it: a pkgutil namespace azureml, a regular monitoring.
    fake = write_tree(tmp_path, {
        "azureml/__init__.py": "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
        "azureml/monitoring/__init__.py": "ModelDataCollector = 'installed'\n"})
    out = run_shimmed(runtime_dir, """
        from azureml.monitoring import ModelDataCollector
        from azureml.core.model import Model  # still filled in by the shim
        print(ModelDataCollector, Model.__module__)
    """, path_first=fake)
    assert out.strip() == "installed azureml.core.model"
