"""@rawhttp script whose response object the server cannot use: its status is not a number."""

import types

from azureml.contrib.services.aml_request import rawhttp


class Broken:
    status_code = "not-a-number"
    headers = types.MappingProxyType({})

    def get_data(self):
        return b""


@rawhttp
def run(request):
    return Broken()
