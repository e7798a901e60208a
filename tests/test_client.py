"""The scoring client against real services on the process backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, ScoreResult, Webservice, Workspace, replay, score, score_frame
from mlnb.client import ScoringClient, encode_payload
from mlnb.deploy import choose_port
from mlnb.errors import InvalidConfiguration, ScoringError

PROCESS = LocalWebservice.deploy_configuration(backend="process")
ROW = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

_PANDAS_SCRIPT = '''\
import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema


def init():
    pass


@input_schema("data", PandasParameterType(pd.DataFrame({"a": [1.0], "b": [2.0]})))
def run(data):
    return (data["a"] * 10 + data["b"]).tolist()
'''


@pytest.fixture()
def service(project: tuple[Workspace, Model, Path]) -> Webservice:
    workspace, model, source = project
    deployed = Model.deploy(workspace, "scored", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    deployed.wait_for_deployment(timeout_sec=60)
    return deployed


def test_every_payload_form_scores_the_same(service: Webservice) -> None:
    expected = service.run({"data": [ROW]})
    frame = pd.DataFrame([ROW], columns=[f"x{i}" for i in range(10)])
    for payload in (json.dumps({"data": [ROW]}), {"data": [ROW]}, np.array([ROW]), frame, {"data": np.array([ROW])}):
        result = score(service, payload)
        assert result.ok and result.status == 200, result
        assert result.body == pytest.approx(expected)
    assert score(service.scoring_uri, {"data": [ROW]}).body == pytest.approx(expected)


def test_result_carries_latency_request_id_and_headers(service: Webservice) -> None:
    result = score(service, {"data": [ROW]}, request_id="my-request-1")
    assert result.request_id == "my-request-1"
    assert result.headers["x-request-id"] == "my-request-1"
    assert result.run_ms is not None and 0 <= result.run_ms <= result.latency_ms
    assert 0 < result.latency_ms < 10_000
    assert "status=200" in repr(result) and "my-request-1" in repr(result)
    assert "200 OK" in result._repr_html_() and "my-request-1" in result._repr_html_()
    assert result.raise_for_status() is result


def test_a_bad_request_is_a_result_not_an_exception(service: Webservice) -> None:
    result = score(service, {"data": "not a matrix"})
    assert result.status == 400 and not result.ok
    assert result.message and "color:red" in result._repr_html_()
    with pytest.raises(ScoringError) as error:
        result.raise_for_status()
    assert error.value.status_code == 400


def test_no_answer_raises(tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match="no answer"):
        score(f"http://127.0.0.1:{choose_port(None)}/score", {"data": [ROW]}, timeout=2)


def test_score_frame_adds_predictions_in_batches(service: Webservice) -> None:
    from sklearn.datasets import load_diabetes

    features = load_diabetes(as_frame=True).data.iloc[:45]
    scored = score_frame(service, features, batch_size=10, column="y")
    assert list(scored.columns) == [*features.columns, "y"] and len(scored) == 45
    assert scored["y"].tolist() == pytest.approx(service.run({"data": features.to_numpy().tolist()}))
    assert "y" not in features.columns
    with pytest.raises(InvalidConfiguration):
        score_frame(service, features, batch_size=0)


def test_replay_tabulates_each_request_in_order(service: Webservice) -> None:
    payloads = [{"data": [ROW]}] * 30 + [{"data": "bad"}] + [{"data": [ROW]}] * 9
    table = replay(service, payloads, concurrency=4)
    assert len(table) == 40
    assert table["status"].tolist() == [200] * 30 + [400] + [200] * 9
    assert table["ok"].sum() == 39 and table.loc[30, "error"]
    assert table["request_id"].is_unique
    assert (table["latency_ms"] > 0).all()


def test_auth_key_is_sent(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", auth_enabled=True)
    secured = Model.deploy(workspace, "secured", [model], InferenceConfig("score.py", source_directory=source), config)
    secured.wait_for_deployment(timeout_sec=60)
    assert score(secured, {"data": [ROW]}).status == 200
    assert score(secured.scoring_uri, {"data": [ROW]}).status == 401
    assert score(secured.scoring_uri, {"data": [ROW]}, key=secured.get_keys()[1]).status == 200


def test_pandas_typed_script_gets_records(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    (source / "pandas_score.py").write_text(_PANDAS_SCRIPT)
    typed = Model.deploy(workspace, "typed", [model], InferenceConfig("pandas_score.py", source_directory=source), PROCESS)
    typed.wait_for_deployment(timeout_sec=60)
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.25]})
    assert score(typed, frame).body == pytest.approx([10.5, 20.25])
    with ScoringClient(typed) as client:
        assert client.encode(frame) == encode_payload(frame, orient="records")
    assert score_frame(typed, frame, batch_size=1)["prediction"].tolist() == pytest.approx([10.5, 20.25])


def test_encode_payload() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [3.5, 4.5]})
    assert json.loads(encode_payload(frame)) == {"data": [[1, 3.5], [2, 4.5]]}
    assert json.loads(encode_payload(frame, orient="records")) == {"data": [{"a": 1, "b": 3.5}, {"a": 2, "b": 4.5}]}
    assert encode_payload('{"data": 1}') == b'{"data": 1}'
    assert json.loads(encode_payload({"x": np.float32(1.5)})) == {"x": 1.5}
    with pytest.raises(InvalidConfiguration, match="orient"):
        encode_payload(frame, orient="split")
    assert isinstance(ScoreResult(200, [1], "[1]", 1.0, "r"), ScoreResult)
