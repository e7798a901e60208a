"""Train the diabetes Ridge model and write ``<out>/diabetes/1/model.pkl`` (run inside each peer's venv)."""

import json
import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

out = Path(sys.argv[1]) / "diabetes" / "1"
out.mkdir(parents=True, exist_ok=True)
X, y = load_diabetes(return_X_y=True)
joblib.dump(Ridge(alpha=0.1).fit(X, y), out / "model.pkl")
rows = X[:100].round(6).tolist()
(Path(sys.argv[1]) / "body1.json").write_text(json.dumps({"data": rows[:1]}))
(Path(sys.argv[1]) / "body100.json").write_text(json.dumps({"data": rows}))
