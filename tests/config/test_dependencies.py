"""Dependency inference: imports and model pickles become requirements pinned to installed versions."""

from __future__ import annotations

import gzip
import importlib.metadata
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from packaging.version import Version
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlnb.config import infer_dependencies


def pin(distribution: str) -> str:
    dist = importlib.metadata.distribution(distribution)
    return f"{dist.metadata['Name']}=={dist.version}"


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def test_imports_map_to_installed_distributions_pinned(tmp_path: Path) -> None:
    write(tmp_path, "score.py", "import os, json\nimport numpy as np\nfrom sklearn.linear_model import Ridge\n")

    inferred = infer_dependencies(tmp_path)

    assert inferred.requirements == (pin("numpy"), pin("scikit-learn"))
    assert inferred.modules == {"numpy": "numpy", "sklearn": "scikit-learn"}
    assert inferred.notes == ()


def test_local_modules_stdlib_and_relative_imports_are_not_requirements(tmp_path: Path) -> None:
    write(tmp_path, "score.py", "from __future__ import annotations\nimport helpers\nfrom pkg.util import f\nfrom . import x\n")
    write(tmp_path, "helpers.py", "import pathlib\n")
    write(tmp_path, "pkg/util.py", "import joblib\n")

    inferred = infer_dependencies(tmp_path)

    assert inferred.requirements == (pin("joblib"),)


def test_uninstalled_modules_are_notes_unless_the_import_is_optional(tmp_path: Path) -> None:
    write(tmp_path, "score.py", (
        "import not_installed_anywhere\n"
        "try:\n    import optional_not_installed\nexcept ImportError:\n    pass\n"
        "import importlib\nlib = importlib.import_module('joblib')\n"
    ))

    inferred = infer_dependencies(tmp_path)

    assert inferred.requirements == (pin("joblib"),)
    assert len(inferred.notes) == 1
    assert "'not_installed_anywhere' (imported by score.py:1) is not installed" in inferred.notes[0]


def test_azureml_imports_are_left_to_the_runtime_shim(tmp_path: Path) -> None:
    write(tmp_path, "score.py", "from azureml.core.model import Model\n")

    inferred = infer_dependencies(tmp_path)

    assert inferred.requirements == ()
    assert "provided by mlnb's serving runtime" in inferred.notes[0]


def test_unparsable_files_and_virtualenvs_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "score.py", "import joblib\n")
    write(tmp_path, "old.py", "print 'python 2'\n")
    write(tmp_path, "venv/pyvenv.cfg", "")
    write(tmp_path, "venv/lib/site.py", "import not_installed_anywhere\n")

    inferred = infer_dependencies(tmp_path)

    assert inferred.requirements == (pin("joblib"),)
    assert inferred.notes == ("old.py skipped: it does not parse (SyntaxError)",)


@pytest.fixture(scope="module")
def pipeline() -> object:
    x = np.random.default_rng(0).random((20, 3))
    return make_pipeline(StandardScaler(), Ridge()).fit(x, x.sum(axis=1))


@pytest.mark.parametrize("dump", ["joblib", "joblib-zlib", "pickle", "pickle-gzip"])
def test_a_pickled_model_pulls_in_its_library(tmp_path: Path, pipeline: object, dump: str) -> None:
    write(tmp_path / "src", "score.py", "import joblib\n")
    model = tmp_path / "model.pkl"
    if dump == "joblib":
        joblib.dump(pipeline, model)
    elif dump == "joblib-zlib":
        joblib.dump(pipeline, model, compress=3)
    elif dump == "pickle":
        model.write_bytes(pickle.dumps(pipeline))
    else:
        model.write_bytes(gzip.compress(pickle.dumps(pipeline)))

    inferred = infer_dependencies(tmp_path / "src", artifacts=[model])

    assert pin("scikit-learn") in inferred.requirements
    assert pin("joblib") in inferred.requirements
    assert inferred.notes == ()


def test_globals_after_joblibs_inline_arrays_are_still_found(tmp_path: Path) -> None:
    # joblib writes array buffers raw into the stream, where pickletools stops reading.
    write(tmp_path / "src", "score.py", "")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    joblib.dump({"weights": np.arange(1000.0), "version": Version("1.0")}, model_dir / "model.joblib")

    inferred = infer_dependencies(tmp_path / "src", artifacts=[model_dir])

    assert pin("packaging") in inferred.requirements
    assert pin("numpy") in inferred.requirements


def test_objects_from_main_are_flagged(tmp_path: Path) -> None:
    write(tmp_path / "src", "score.py", "")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04c__main__\nMyModel\n)\x81.")

    inferred = infer_dependencies(tmp_path / "src", artifacts=[model])

    assert inferred.requirements == ()
    assert "__main__ (__main__.MyModel)" in inferred.notes[0]


def test_non_pickle_artifacts_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "src", "score.py", "")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x07pytorch")
    (tmp_path / "weights.pkl").write_bytes(b"not a pickle at all")

    inferred = infer_dependencies(tmp_path / "src", artifacts=[tmp_path / "model.onnx", tmp_path / "weights.pkl"])

    assert inferred.requirements == ()


def test_result_shows_in_logs_and_converts_to_an_environment(tmp_path: Path) -> None:
    write(tmp_path, "score.py", "import joblib\nimport not_installed_anywhere\n")

    inferred = infer_dependencies(tmp_path)

    assert str(inferred).splitlines()[:2] == ["Inferred 1 requirement(s) from the source's imports and the models:", f"  {pin('joblib')}"]
    assert str(inferred).splitlines()[2].startswith("note: module 'not_installed_anywhere'")
    assert inferred.to_environment("mine").requirements == (pin("joblib"),)
    assert "<code>" in inferred._repr_html_()


def test_only_the_entry_scripts_import_closure_is_read(tmp_path: Path) -> None:
    # The folder: a script importing three packages, beside a training script and other helpers.
    write(tmp_path, "score.py", "import json\nimport joblib\nimport numpy as np\nfrom features import prepare\n")
    write(tmp_path, "features/__init__.py", "from .scaling import prepare\n")
    write(tmp_path, "features/scaling.py", "import sklearn.preprocessing\nfrom . import _unused_here\n")
    write(tmp_path, "train.py", "import matplotlib\nimport pandas\nimport scipy\nimport psutil\n")
    write(tmp_path, "plots/make.py", "import matplotlib.pyplot\n")

    everything = infer_dependencies(tmp_path)
    closure = infer_dependencies(tmp_path, entry_script="score.py")

    assert len(everything.requirements) == 7
    assert closure.requirements == tuple(sorted((pin("joblib"), pin("numpy"), pin("scikit-learn")), key=str.lower))
    assert "not read, as score.py does not import them: plots/make.py, train.py" in closure.notes


def test_the_closure_resolves_modules_beside_an_entry_script_in_a_subfolder(tmp_path: Path) -> None:
    write(tmp_path, "service/score.py", "import model_io\n")
    write(tmp_path, "service/model_io.py", "import joblib\n")
    write(tmp_path, "notebooks/explore.py", "import pandas\n")

    inferred = infer_dependencies(tmp_path, entry_script="service/score.py")

    assert inferred.requirements == (pin("joblib"),)
