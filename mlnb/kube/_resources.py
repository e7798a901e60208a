"""Container resources: Kubernetes quantities, and how a profile's recommendation becomes them.

A profile recommends ``{'cpu': 0.8, 'memoryInGB': 0.2}`` (cores, and GiB as mlnb measures
memory: 1 GB = 1024 MiB). That recommendation is already sized for the load the profile
found acceptable, with the profile's own memory headroom over the peak, so it becomes the
container's *requests*: what the scheduler reserves and what the autoscaler's utilisation
is measured against. The *limits* add ``headroom`` on top (50 % by default): room for a
burst while the autoscaler reacts, before CPU is throttled or the pod is killed for memory.

Every value is rounded *up*, so a container never gets less than asked: CPU to whole
millicores (``"800m"``, whole cores as ``"1"``), memory to whole MiB (``"205Mi"``, whole GiB
as ``"1Gi"``). Arithmetic is decimal on the number as written, so ``0.29`` cores is
``"290m"``, not the ``"291m"`` that binary floating point would round up to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import TypedDict

from mlnb.errors import InvalidConfiguration

__all__ = [
    "DEFAULT_HEADROOM",
    "ContainerResources",
    "parse_quantity",
    "resources_from_recommendation",
]

#: The fraction the limits add to the requests.
DEFAULT_HEADROOM = 0.5
_MAX_HEADROOM = 10.0
_MILLI = Decimal(1000)
_MEBI_PER_GIBI = Decimal(1024)
_QUANTITY = re.compile(r"(?P<number>\+?(\d+(\.\d*)?|\.\d+))(?P<suffix>[KMGTPE]i|[eE][-+]?\d+|[numkMGTPE]?)")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


class ContainerResources(TypedDict):
    """A container's requests and limits, as :class:`KubeSpec` takes them (``**resources``)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


def resources_from_recommendation(
    recommendation: Mapping[str, float], *, headroom: float = DEFAULT_HEADROOM
) -> ContainerResources:
    """Map a profile's ``{'cpu': …, 'memoryInGB': …}`` to container requests and limits.

    The requests are the recommendation; the limits are the recommendation times
    ``1 + headroom``; all are rounded up (see the module's docstring). The keys match
    :class:`KubeSpec`'s fields, so the result can be passed straight in.

    Args:
        recommendation: ``cpu`` in cores and ``memoryInGB`` in GiB, both above zero
            (what ``ModelProfile.get_results()`` returns).
        headroom: the fraction the limits add to the requests, 0 to 10.

    Returns:
        ``{'cpu_request', 'cpu_limit', 'memory_request', 'memory_limit'}`` as quantities.

    Raises:
        InvalidConfiguration: for a missing, extra, non-numeric, non-positive or
            non-finite value, or a headroom out of range.

    Example::

        >>> resources_from_recommendation({"cpu": 0.8, "memoryInGB": 0.2})
        {'cpu_request': '800m', 'cpu_limit': '1200m', 'memory_request': '205Mi', 'memory_limit': '308Mi'}
    """
    if not isinstance(recommendation, Mapping) or set(recommendation) != {"cpu", "memoryInGB"}:
        keys = sorted(recommendation) if isinstance(recommendation, Mapping) else recommendation
        raise InvalidConfiguration(
            f"a recommendation needs exactly the keys 'cpu' and 'memoryInGB' (as a profile's get_results() gives), not {keys!r}"
        )
    factor = 1 + _decimal(headroom, "headroom", minimum_exclusive=False)
    if factor - 1 > Decimal(repr(_MAX_HEADROOM)):
        raise InvalidConfiguration(f"invalid value for headroom, expected a fraction such as 0.5 (not {headroom!r})")
    cpu = _decimal(recommendation["cpu"], "cpu")
    memory = _decimal(recommendation["memoryInGB"], "memoryInGB")
    return ContainerResources(
        cpu_request=_format_cpu(cpu),
        cpu_limit=_format_cpu(cpu * factor),
        memory_request=_format_memory(memory),
        memory_limit=_format_memory(memory * factor),
    )


def parse_quantity(text: str, *, what: str = "quantity") -> Decimal:
    """Read a Kubernetes quantity (``"800m"``, ``"1.5"``, ``"205Mi"``, ``"1e3"``) as a number.

    Args:
        text: the quantity.
        what: how the error message calls it.

    Returns:
        Its value in base units (cores, bytes).

    Raises:
        InvalidConfiguration: when ``text`` is not a quantity above zero.
    """
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidConfiguration(
            f"invalid {what} {text!r}: expected a Kubernetes quantity such as '500m' or '1' (CPU), '512Mi' or '1Gi' (memory)"
        )
    number = Decimal(match["number"])
    suffix = match["suffix"]
    if suffix in _BINARY_SUFFIXES:
        value = number * (1 << _BINARY_SUFFIXES[suffix])
    elif suffix in _DECIMAL_SUFFIXES:
        value = number.scaleb(_DECIMAL_SUFFIXES[suffix])
    else:
        value = number.scaleb(int(suffix[1:]))
    if value <= 0:
        raise InvalidConfiguration(f"invalid {what} {text!r}: it must be above zero")
    return value


def _decimal(value: float, what: str, *, minimum_exclusive: bool = True) -> Decimal:
    """``value`` as the decimal number it is written as (``0.29`` stays ``0.29``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidConfiguration(f"invalid value for {what}, expected a finite number (not {value!r})")
    if value < 0 or (minimum_exclusive and value == 0):
        bound = "above zero" if minimum_exclusive else "zero or more"
        raise InvalidConfiguration(f"invalid value for {what}, expected a number {bound} (not {value!r})")
    return Decimal(repr(value))


def _format_cpu(cores: Decimal) -> str:
    millicores = int((cores * _MILLI).to_integral_value(rounding=ROUND_CEILING))
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def _format_memory(gib: Decimal) -> str:
    mebibytes = int((gib * _MEBI_PER_GIBI).to_integral_value(rounding=ROUND_CEILING))
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"
