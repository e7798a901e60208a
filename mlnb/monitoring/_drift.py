"""Data drift: how far the inputs a service received have moved from reference data.

Per numeric feature, two measures:

* the population stability index, PSI = sum over bins of (c - r) * ln(c / r), where r and
  c are the reference's and the current data's share of each bin. The bins are the
  reference's deciles (by default), so each holds a tenth of the reference, with the outer
  bins open to -inf and +inf; tied quantiles merge bins. An empty bin's share is raised to
  :data:`EPSILON` so the logarithm stays finite. Rules of thumb: below 0.1 stable, 0.1 to
  0.25 a moderate shift, above 0.25 a major one.
* the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``): the largest gap
  between the two empirical distribution functions, and the p-value of "same distribution".

A feature is flagged when both say so: PSI at least ``psi_threshold`` (a shift large enough
to matter) and a KS p-value below ``alpha`` (not a fluke of a small sample). On large samples
KS alone flags differences too small to matter; on small ones PSI alone is noisy.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.errors import InvalidConfiguration

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["EPSILON", "DriftReport", "drift", "population_stability_index"]

#: The smallest bin share used in PSI, standing in for an empty bin.
EPSILON = 1e-4
_COLUMNS = ["feature", "flagged", "psi", "ks_statistic", "ks_pvalue", "reference_mean", "current_mean",
            "reference_count", "current_count"]


def population_stability_index(reference: np.ndarray, current: np.ndarray, *, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``, over ``bins`` quantile bins of the reference.

    Args:
        reference: The reference sample (1-D, no missing values).
        current: The sample to compare (1-D, no missing values).
        bins: How many quantile bins of the reference to use.

    Returns:
        The index: 0 for identical binned distributions, larger the more they differ.
    """
    import numpy as np

    inner = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=inner.size + 1) / reference.size
    cur_share = np.bincount(np.searchsorted(inner, current, side="right"), minlength=inner.size + 1) / current.size
    ref_share = np.maximum(ref_share, EPSILON)
    cur_share = np.maximum(cur_share, EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


class DriftReport:
    """The result of :func:`drift`: one row per feature, flagged features first.

    Attributes:
        psi_threshold: The PSI from which a feature counts as shifted.
        alpha: The KS p-value below which a shift counts as real.
    """

    def __init__(self, table: pd.DataFrame, reference: pd.DataFrame, current: pd.DataFrame, *,
                 psi_threshold: float, alpha: float) -> None:
        self._table = table
        self._reference = reference
        self._current = current
        self.psi_threshold = psi_threshold
        self.alpha = alpha

    @property
    def flagged(self) -> list[str]:
        """The features that drifted, largest PSI first."""
        return [str(name) for name in self._table.loc[self._table["flagged"], "feature"]]

    def to_dataframe(self) -> pd.DataFrame:
        """The report as a DataFrame (a copy): columns ``feature``, ``flagged``, ``psi``,
        ``ks_statistic``, ``ks_pvalue``, ``reference_mean``, ``current_mean``,
        ``reference_count``, ``current_count``."""
        return self._table.copy()

    def plot(self, features: Sequence[str] | None = None) -> Figure:
        """Reference against current histograms, one panel per feature.

        Args:
            features: The features to draw; by default the flagged ones, or the one with
                the largest PSI when none is flagged.

        Returns:
            A matplotlib Figure (not attached to pyplot, so it does not pile up in notebooks).
        """
        import numpy as np
        from matplotlib.figure import Figure

        names = list(features) if features is not None else (self.flagged or list(self._table["feature"][:1]))
        columns = min(3, max(1, len(names)))
        rows = -(-max(1, len(names)) // columns)
        figure = Figure(figsize=(4.2 * columns, 3.2 * rows), layout="constrained")
        by_name = self._table.set_index("feature")
        for index, name in enumerate(names):
            axes = figure.add_subplot(rows, columns, index + 1)
            reference = self._reference[name].dropna().to_numpy(dtype=float)
            current = self._current[name].dropna().to_numpy(dtype=float)
            edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins=30).tolist()
            axes.hist(reference, bins=edges, density=True, alpha=0.5, color="tab:blue", label="reference")
            axes.hist(current, bins=edges, density=True, alpha=0.5, color="tab:orange", label="current")
            row = by_name.loc[name]
            mark = " (drift)" if row["flagged"] else ""
            axes.set_title(f"{name}{mark}: PSI {row['psi']:.3f}, KS p {row['ks_pvalue']:.2g}", fontsize=9)
            axes.legend(fontsize=8)
        if not names:
            figure.suptitle("no numeric features")
        return figure

    def __repr__(self) -> str:
        flagged = ", ".join(self.flagged) or "none"
        return f"DriftReport(features={len(self._table)}, flagged=[{flagged}])"

    def _repr_html_(self) -> str:
        flagged = self.flagged
        title = (f"<b>Drift</b>: {len(flagged)} of {len(self._table)} features flagged "
                 f"(PSI &ge; {self.psi_threshold:g} and KS p &lt; {self.alpha:g})")
        table = self._table.to_html(index=False, float_format=lambda value: f"{value:.4g}")
        image = ""
        if flagged:
            buffer = io.BytesIO()
            self.plot().savefig(buffer, format="png", dpi=72)
            image = f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
        names = html.escape(", ".join(flagged))
        return f"<div>{title}{': ' + names if names else ''}{table}{image}</div>"


def _as_frame(data: Any, names: Sequence[str] | None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    array = np.asarray(data, dtype=float)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidConfiguration(f"Expected a DataFrame or a 2-D array of features, got {array.ndim} dimensions.")
    columns = list(names) if names is not None and len(names) == array.shape[1] else \
        [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=columns)


def drift(current: Any, reference: Any, *, features: Sequence[str] | None = None, bins: int = 10,
          psi_threshold: float = 0.2, alpha: float = 0.05) -> DriftReport:
    """Compare current inputs with reference data, feature by feature (PSI and KS).

    Args:
        current: The inputs to check: a DataFrame of features, a 2-D array, or a frame from
            :func:`~mlnb.monitoring.read_collected` (its ``inputs`` are expanded with
            :func:`~mlnb.monitoring.expand_inputs`, named like the reference's columns).
        reference: What the inputs should look like, e.g. the training data: a DataFrame or
            a 2-D array (columns ``x0``, ``x1``, ... like expanded inputs).
        features: The features to compare; by default every numeric column both have.
        bins: Quantile bins of the reference for PSI.
        psi_threshold: PSI from which a feature is flagged (with a KS p-value below ``alpha``).
        alpha: KS p-value below which a difference is not put down to chance.

    Returns:
        The :class:`DriftReport`.

    Raises:
        InvalidConfiguration: A requested feature is missing or not numeric, or there is no data.

    Example::

        report = drift(read_collected(folder, service="diabetes"), X_train)
        report.flagged, report.plot()
    """
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    from mlnb.monitoring._collected import expand_inputs

    reference_frame = _as_frame(reference, None)
    if isinstance(current, pd.DataFrame) and "inputs" in current.columns and "request_id" in current.columns:
        current = expand_inputs(current, feature_names=list(map(str, reference_frame.columns)))
    current_frame = _as_frame(current, list(map(str, reference_frame.columns)))
    if features is None:
        names = [name for name in reference_frame.columns if name in current_frame.columns
                 and pd.api.types.is_numeric_dtype(reference_frame[name])
                 and pd.api.types.is_numeric_dtype(current_frame[name])]
    else:
        names = list(features)
        for name in names:
            for label, frame in (("reference", reference_frame), ("current data", current_frame)):
                if name not in frame.columns:
                    raise InvalidConfiguration(f"Feature {name!r} is not in the {label}; its columns are "
                                               f"{', '.join(map(str, frame.columns))}.")
                if not pd.api.types.is_numeric_dtype(frame[name]):
                    raise InvalidConfiguration(f"Feature {name!r} is not numeric in the {label}.")
    rows = []
    for name in names:
        ref = reference_frame[name].dropna().to_numpy(dtype=float)
        cur = current_frame[name].dropna().to_numpy(dtype=float)
        if ref.size == 0 or cur.size == 0:
            raise InvalidConfiguration(f"Feature {name!r} has no values in the "
                                       f"{'reference' if ref.size == 0 else 'current data'}.")
        psi = population_stability_index(ref, cur, bins=bins)
        ks = ks_2samp(ref, cur)
        rows.append({"feature": name, "flagged": bool(psi >= psi_threshold and ks.pvalue < alpha), "psi": psi,
                     "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                     "reference_mean": float(np.mean(ref)), "current_mean": float(np.mean(cur)),
                     "reference_count": int(ref.size), "current_count": int(cur.size)})
    table = pd.DataFrame(rows, columns=_COLUMNS)
    table = table.sort_values(["flagged", "psi"], ascending=[False, False], kind="stable", ignore_index=True)
    return DriftReport(table, reference_frame, current_frame, psi_threshold=psi_threshold, alpha=alpha)
