"""Kubernetes names and labels, checked the way the API server checks them.

The JSON schemas that offline validation uses type a name as a plain string, so a name the
API server would refuse passes them; these checks close that gap, with one line that says
what to change.
"""

from __future__ import annotations

import re

from mlnb.errors import InvalidConfiguration

__all__ = ["check_dns_label", "check_label", "check_label_name", "check_service_name", "check_subdomain"]

_MAX_LABEL_NAME = 63
_MAX_SUBDOMAIN = 253
# RFC 1035 label: what Kubernetes requires of a Service name (a letter first).
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# RFC 1123 label: namespaces; a digit may come first.
_DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def check_service_name(name: str, *, what: str = "service name") -> str:
    """Refuse a name that cannot name a Kubernetes Service.

    A Service name is an RFC 1035 label: at most 63 characters, lower-case letters, digits
    and ``-``, starting with a letter and ending with a letter or digit. The Deployment,
    autoscaler, disruption budget and Secret take the same name (or one derived from it),
    and their rules are looser, so this one check covers them all.

    Args:
        name: the name to check.
        what: how the error message calls it.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidConfiguration: when Kubernetes would refuse the name.
    """
    if not isinstance(name, str) or len(name) > _MAX_LABEL_NAME or not _DNS_1035_LABEL.fullmatch(name):
        hint = _suggest(name) if isinstance(name, str) else None
        raise InvalidConfiguration(
            f"invalid {what} {name!r}: Kubernetes needs at most {_MAX_LABEL_NAME} lower-case letters, digits or '-', "
            "starting with a letter and ending with a letter or digit" + (f"; try {hint!r}" if hint else "")
        )
    return name


def check_dns_label(name: str, *, what: str) -> str:
    """Refuse a name that is not an RFC 1123 label (a namespace, for one).

    Args:
        name: the name to check.
        what: how the error message calls it.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidConfiguration: when Kubernetes would refuse the name.
    """
    if not isinstance(name, str) or len(name) > _MAX_LABEL_NAME or not _DNS_1123_LABEL.fullmatch(name):
        raise InvalidConfiguration(
            f"invalid {what} {name!r}: Kubernetes needs at most {_MAX_LABEL_NAME} lower-case letters, "
            "digits or '-', starting and ending with a letter or digit"
        )
    return name


def check_subdomain(name: str, *, what: str) -> str:
    """Refuse a name that is not an RFC 1123 subdomain (a Secret's name, for one).

    Args:
        name: the name to check.
        what: how the error message calls it.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidConfiguration: when Kubernetes would refuse the name.
    """
    if not isinstance(name, str) or len(name) > _MAX_SUBDOMAIN or not _DNS_1123_SUBDOMAIN.fullmatch(name):
        raise InvalidConfiguration(
            f"invalid {what} {name!r}: Kubernetes needs at most {_MAX_SUBDOMAIN} lower-case letters, digits, "
            "'-' or '.', starting and ending with a letter or digit"
        )
    return name


def check_label_name(key: str) -> str:
    """Refuse a label key that is not ``[prefix/]name`` as Kubernetes defines it.

    Args:
        key: the label key, such as ``team`` or ``example.com/team``.

    Returns:
        ``key``, unchanged.

    Raises:
        InvalidConfiguration: when Kubernetes would refuse the key.
    """
    prefix, _, name = key.rpartition("/") if isinstance(key, str) else ("", "", "")
    valid = (
        isinstance(key, str)
        and len(name) <= _MAX_LABEL_NAME
        and _LABEL_PART.fullmatch(name) is not None
        and (
            ("/" not in key)
            or (len(prefix) <= _MAX_SUBDOMAIN and _DNS_1123_SUBDOMAIN.fullmatch(prefix) is not None)
        )
    )
    if not valid:
        raise InvalidConfiguration(
            f"invalid label key {key!r}: use an optional DNS prefix and '/', then at most {_MAX_LABEL_NAME} letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. 'example.com/team')"
        )
    return key


def check_label(key: str, value: str) -> tuple[str, str]:
    """Refuse a label whose key or value Kubernetes would not accept.

    Args:
        key: the label key (see :func:`check_label_name`).
        value: the value: empty, or at most 63 letters, digits, ``-``, ``_`` or ``.``,
            starting and ending with a letter or digit.

    Returns:
        ``(key, value)``, unchanged.

    Raises:
        InvalidConfiguration: when Kubernetes would refuse the key or the value.
    """
    check_label_name(key)
    if not isinstance(value, str) or len(value) > _MAX_LABEL_NAME or (value and not _LABEL_PART.fullmatch(value)):
        raise InvalidConfiguration(
            f"invalid value {value!r} for label {key!r}: use at most {_MAX_LABEL_NAME} letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return key, value


def _suggest(name: str) -> str | None:
    """The nearest valid name: lower case, other characters as ``-``, a letter first."""
    candidate = re.sub(r"[^a-z0-9]+", "-", name.lower())
    candidate = re.sub(r"^[^a-z]+", "", candidate)[:_MAX_LABEL_NAME].rstrip("-")
    return candidate if candidate and candidate != name else None
