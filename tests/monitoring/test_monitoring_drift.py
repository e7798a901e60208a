"""Drift: PSI and KS per feature, flagging, the report's views."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlnb.errors import InvalidConfiguration
from mlnb.monitoring import EPSILON, DriftReport, drift, population_stability_index, read_collected
from mlnb.serving.collect import Collector, Row


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(42)
    reference = pd.DataFrame({"age": rng.normal(50, 10, 5000), "bmi": rng.normal(25, 4, 5000),
                              "bp": rng.normal(90, 12, 5000), "group": rng.choice(["a", "b"], 5000)})
    current = pd.DataFrame({"age": rng.normal(50, 10, 800), "bmi": rng.normal(29, 4, 800),  # bmi moved 1 sd
                            "bp": rng.normal(90, 12, 800), "group": rng.choice(["a", "b"], 800)})
    return reference, current


def test_a_shifted_feature_is_flagged_and_unshifted_ones_are_not(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = data
    report = drift(current, reference)
    assert report.flagged == ["bmi"]
    table = report.to_dataframe()
    assert table["feature"][0] == "bmi"  # flagged first
    assert list(table.columns) == ["feature", "flagged", "psi", "ks_statistic", "ks_pvalue", "reference_mean",
                                   "current_mean", "reference_count", "current_count"]
    bmi = table.set_index("feature").loc["bmi"]
    assert bmi["psi"] > 0.25 and bmi["ks_pvalue"] < 1e-10
    for name in ("age", "bp"):
        row = table.set_index("feature").loc[name]
        assert row["psi"] < 0.05 and not row["flagged"]
    assert "group" not in set(table["feature"])  # not numeric: left out
    assert (table["reference_count"] == 5000).all() and (table["current_count"] == 800).all()


def test_psi_matches_a_hand_computation() -> None:
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    current = np.array([1.0, 1.0, 1.0, 4.0])
    # Two bins split at the reference's median (2.5): reference 1/2, 1/2; current 3/4, 1/4.
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert population_stability_index(reference, current, bins=2) == pytest.approx(expected)
    assert population_stability_index(reference, reference, bins=2) == 0
    # An empty bin counts as EPSILON, so the index stays finite.
    empty = population_stability_index(reference, np.array([1.0, 1.0]), bins=2)
    assert empty == pytest.approx((1 - 0.5) * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5))


def test_ties_in_the_reference_merge_bins() -> None:
    reference = np.array([0.0] * 90 + [1.0] * 10)
    assert population_stability_index(reference, reference.copy()) == 0
    assert population_stability_index(reference, np.array([0.0] * 50 + [1.0] * 50)) > 0.5


def test_report_views(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = data
    report = drift(current, reference, features=["bmi", "age"])
    assert isinstance(report, DriftReport)
    assert repr(report) == "DriftReport(features=2, flagged=[bmi])"
    html = report._repr_html_()
    assert "1 of 2 features flagged" in html and "<table" in html and "data:image/png;base64," in html
    figure = report.plot()
    assert isinstance(figure, Figure)
    assert [axes.get_title().split(":")[0] for axes in figure.axes] == ["bmi (drift)"]
    assert len(report.plot(features=["age", "bmi"]).axes) == 2
    quiet = drift(current, reference, features=["age"])
    assert quiet.flagged == [] and len(quiet.plot().axes) == 1  # the largest PSI, unflagged
    assert "<img" not in quiet._repr_html_()


def test_arrays_and_errors(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = data
    report = drift(current[["age", "bmi"]].to_numpy(), reference[["age", "bmi"]].to_numpy())
    assert report.flagged == ["x1"]
    with pytest.raises(InvalidConfiguration, match="'weight' is not in the reference"):
        drift(current, reference, features=["weight"])
    with pytest.raises(InvalidConfiguration, match="'group' is not numeric"):
        drift(current, reference, features=["group"])
    with pytest.raises(InvalidConfiguration, match="no values in the current data"):
        drift(current.iloc[:0], reference, features=["age"])


def test_drift_of_collected_requests(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Collected inputs ({"data": [[...]]}) are expanded and named like the reference's columns."""
    reference, current = data
    numeric = reference[["age", "bmi", "bp"]]
    collector = Collector(str(tmp_path), service="drift", interval_s=3600, max_rows=10_000)
    rows = current[["age", "bmi", "bp"]].to_numpy()
    for index in range(0, len(rows), 2):  # two input rows per request
        body = json.dumps({"data": rows[index:index + 2].tolist()}).encode()
        collector.add(Row(1.7e9 + index, f"r{index}", "POST", 200, 0.001, 0.1, body, "", b"[1.0, 2.0]"))
    collector.add(Row(1.7e9, "bad", "POST", 400, 0.001, None, b'{"data": [[1]]}', "", b'{"message": "x"}'))
    collector.close()
    report = drift(read_collected(tmp_path, service="drift"), numeric)
    assert report.flagged == ["bmi"]
    assert set(report.to_dataframe()["current_count"]) == {800}  # the 400 was left out
