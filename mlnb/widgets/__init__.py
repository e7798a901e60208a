"""ipywidgets panels over the engine: registry, deploy form, logs, test requests, profile, monitor.

Every panel takes the workspace in its constructor and never blocks the kernel: slow
work runs in a thread (its buttons disabled meanwhile, its errors shown in the panel),
and live views are updated by one throttled pump thread. ``Dashboard`` tabs them all;
``%mlnb`` shows one.
"""

from __future__ import annotations

from mlnb.widgets.dashboard import Dashboard
from mlnb.widgets.deploy import DeployPanel
from mlnb.widgets.logs import LogView
from mlnb.widgets.monitor import MonitorPanel
from mlnb.widgets.profile import ProfilePanel
from mlnb.widgets.registry import RegistryPanel
from mlnb.widgets.request import RequestPanel
from mlnb.widgets.services import ServicesPanel

__all__ = [
    "Dashboard",
    "DeployPanel",
    "LogView",
    "MonitorPanel",
    "ProfilePanel",
    "RegistryPanel",
    "RequestPanel",
    "ServicesPanel",
]
