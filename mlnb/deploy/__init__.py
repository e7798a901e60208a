"""Deployments: the lifecycle (deploy, update, reload, delete), the :class:`Webservice`
handle, service records, ports, the entry-script check, and the backends that run services
(:mod:`mlnb.deploy.backends`).
"""

from __future__ import annotations

from mlnb.deploy._ports import choose_port
from mlnb.deploy._progress import LiveProgress, in_notebook
from mlnb.deploy._records import ServiceRecord, validate_service_name
from mlnb.deploy._script_check import ScriptCheck, check_entry_script
from mlnb.deploy._webservice import STATES, ServiceList, Webservice, deploy

__all__ = [
    "LiveProgress",
    "STATES",
    "ScriptCheck",
    "ServiceList",
    "ServiceRecord",
    "Webservice",
    "check_entry_script",
    "choose_port",
    "deploy",
    "in_notebook",
    "validate_service_name",
]
