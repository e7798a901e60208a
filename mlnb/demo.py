"""The demo behind ``mlnb demo`` (and ``make demo``): the loop on a bundled model.

It trains scikit-learn's Ridge regression on the diabetes data set that ships with
scikit-learn (no download), registers it, and shows the registry.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlnb.errors import InvalidConfiguration
from mlnb.models import Model
from mlnb.workspace import Workspace


def train_diabetes_model(target: Path) -> Path:
    """Train Ridge on the diabetes data set and save it with joblib at ``target``.

    Raises:
        InvalidConfiguration: when scikit-learn is not installed.
    """
    try:
        import joblib
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge
    except ImportError:
        raise InvalidConfiguration("the demo needs scikit-learn: pip install 'mlnb[demo]'") from None
    features, labels = load_diabetes(return_X_y=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(Ridge(alpha=0.1).fit(features, labels), target)
    return target


def run_demo(project: Path | None = None) -> int:
    """Run the demo in ``project`` (a temporary folder when None); returns an exit status."""
    folder = project or Path(tempfile.mkdtemp(prefix="mlnb-demo-"))
    try:
        print(f"1. project folder {folder}")
        ws = Workspace.create(folder)
        print(f"   workspace {ws.path}")
        model_path = train_diabetes_model(folder / "outputs" / "sklearn_regression_model.pkl")
        print(f"2. trained Ridge on the diabetes data set -> {model_path.name}")
        import sklearn

        model = Model.register(
            workspace=ws,
            model_path=model_path,
            model_name="sklearn_regression_model",
            tags={"area": "diabetes", "type": "regression"},
            description="Ridge regression on scikit-learn's diabetes data set",
            model_framework=Model.Framework.SCIKITLEARN,
            model_framework_version=sklearn.__version__,
        )
        print(f"3. registered {model.id} ({model.size} bytes)")
        print("4. the registry now holds:")
        print(Model.list(ws).to_dataframe()[["name", "version", "framework", "size"]].to_string(index=False))
        return 0
    finally:
        if project is None:
            shutil.rmtree(folder, ignore_errors=True)
