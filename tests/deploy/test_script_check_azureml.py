"""check_entry_script (``%%score_script``) on the seed's ``@rawhttp`` script, which imports azureml."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mlnb.deploy import check_entry_script

# The seed's binary-data example, as Azure's docs print it (trimmed to what it imports and does).
SEED_RAWHTTP = '''\
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    print("This is init()")


@rawhttp
def run(request):
    if request.method == 'POST':
        return AMLResponse(request.get_data(False), 200)
    return AMLResponse("bad request", 500)
'''


def test_a_script_importing_azureml_contrib_checks_like_it_serves(tmp_path: Path) -> None:
    # The server provides azureml.contrib.services; the check must see the script as the server does.
    assert importlib.util.find_spec("azureml") is None
    script = tmp_path / "score.py"
    script.write_text(SEED_RAWHTTP)
    assert check_entry_script(script).mode == "rawhttp"
