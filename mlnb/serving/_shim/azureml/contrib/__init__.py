"""mlnb's ``azureml`` compatibility shim (see ``mlnb.serving.shim``)."""

# Namespace-style, like the real azureml packages, so installed ones are merged in and win.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
