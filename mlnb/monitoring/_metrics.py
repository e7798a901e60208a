"""Prometheus text (a service's ``GET /metrics``) as a tidy DataFrame."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_metrics"]


def parse_metrics(text: str) -> pd.DataFrame:
    """Parse the Prometheus text exposition format into one row per sample.

    Args:
        text: What ``GET /metrics`` returned.

    Returns:
        Columns ``metric`` (the family, e.g. ``mlnb_request_duration_seconds``), ``type``
        (``counter``, ``gauge``, ``histogram``, ...), ``sample`` (the sample's own name, e.g.
        ``mlnb_request_duration_seconds_bucket``), ``labels`` (a dict), ``value``, plus one
        column per label name (missing where a sample lacks that label). Histogram buckets
        keep their ``le`` label as text (``"0.005"``, ``"+Inf"``).

    Raises:
        ValueError: ``text`` is not in the Prometheus text format.

    Example::

        frame = parse_metrics(requests.get(service.scoring_uri.replace("/score", "/metrics")).text)
        frame[frame["sample"] == "mlnb_requests_total"].groupby("status")["value"].sum()
    """
    import pandas as pd
    from prometheus_client.parser import text_string_to_metric_families

    rows = []
    label_names: dict[str, None] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            rows.append({"metric": family.name, "type": family.type, "sample": sample.name,
                         "labels": dict(sample.labels), "value": float(sample.value)})
            label_names.update(dict.fromkeys(sample.labels))
    frame = pd.DataFrame(rows, columns=["metric", "type", "sample", "labels", "value"])
    for name in label_names:
        if name not in frame.columns:
            frame[name] = [labels.get(name) for labels in frame["labels"]]
    return frame
