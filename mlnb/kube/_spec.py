"""What the Kubernetes manifests are made from: one validated, immutable description."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType

from mlnb.errors import InvalidConfiguration
from mlnb.kube._names import check_dns_label, check_label, check_service_name, check_subdomain
from mlnb.kube._resources import parse_quantity

__all__ = ["DEFAULT_MAX_REPLICAS", "IMAGE_PORT", "RESERVED_LABELS", "KubeSpec"]

#: The port the image mlnb builds listens on (its ``CMD`` passes ``--port 5001``).
IMAGE_PORT = 5001
#: Azure's ``AksWebservice`` default for ``autoscale_max_replicas``.
DEFAULT_MAX_REPLICAS = 10
#: Labels mlnb sets on every object; the first one selects the pods, so it cannot change.
RESERVED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/managed-by")

_MAX_PORT = 65535
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_COMPONENT = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# The reference grammar of the Distribution project (docker/distribution, reference/regexp.go).
_IMAGE_REFERENCE = re.compile(
    rf"(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*(?::\d+)?/)?"
    rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


@dataclass(frozen=True)
class KubeSpec:
    """A scoring service as Kubernetes should run it; every field is checked on creation.

    Only ``name`` and ``image`` are positional. The defaults follow Azure's
    ``AksWebservice`` (0.1 core and 0.5 GB requested, autoscaling from 1 to 10 replicas
    at 70 % CPU) and the image mlnb builds (port 5001, user 10001, entry script and
    model folder baked into its environment). Auth keys are not part of the spec, so a
    spec can be shown or logged: they go to :func:`render_manifests` separately.

    Attributes:
        name: the Service's name, also the Deployment's, autoscaler's and budget's; an
            RFC 1035 label (``diabetes-svc``: lower case, a letter first, at most 63).
        image: the image reference the cluster pulls, with its registry
            (``registry.example.com/diabetes:3``).
        port: the port the server listens on in the container.
        service_port: the port the ClusterIP Service exposes (to ``port``).
        replicas: how many pods the capacity plan asks for: the Deployment's replica
            count without autoscaling, and the autoscaler's minimum by default.
        autoscale: add a HorizontalPodAutoscaler on CPU utilisation.
        min_replicas: the autoscaler's minimum; ``None`` means ``replicas``.
        max_replicas: the autoscaler's maximum; ``None`` means 10 (Azure's default).
        target_cpu_utilization: the autoscaler's target, in percent of ``cpu_request``.
        cpu_request: CPU the scheduler reserves per pod (a quantity: ``"800m"``, ``"1"``).
        cpu_limit: CPU a pod may use before it is throttled.
        memory_request: memory the scheduler reserves per pod (``"205Mi"``).
        memory_limit: memory above which a pod is killed and restarted.
        auth_enabled: require ``Authorization: Bearer <key>`` on ``/score``; the keys
            come from a Secret mounted as a file.
        environment: environment variables for the server (not secret: they are written
            into the Deployment in plain text).
        labels: extra labels on every object (``team: fraud``).
        namespace: the namespace for every object; ``None`` leaves it to ``kubectl``.
        entry_script: ``--entry-script`` for the server; ``None`` uses the image's own.
        model_dir: ``--model-dir`` for the server; ``None`` uses the image's own.
        readiness_path: the route that answers 200 once ``init()`` has succeeded.
        liveness_path: the route that answers 200 while the server is alive.
        startup_timeout_s: how long ``init()`` may take before the pod is restarted.
        read_only_root_filesystem: mount the image read-only (the server writes only
            to ``/tmp``, an ``emptyDir``); turn off for an entry script that writes
            elsewhere.
        image_pull_secrets: Secrets with the credentials for a private registry.

    Raises:
        InvalidConfiguration: for any value Kubernetes or the server would refuse, with
            one line saying what to change.

    Example::

        spec = KubeSpec("diabetes", "registry.example.com/diabetes:3", replicas=2,
                        **resources_from_recommendation(profile.get_results()))
    """

    name: str
    image: str
    _: KW_ONLY
    port: int = IMAGE_PORT
    service_port: int = 80
    replicas: int = 1
    autoscale: bool = True
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu_utilization: int = 70
    cpu_request: str = "100m"
    cpu_limit: str = "150m"
    memory_request: str = "512Mi"
    memory_limit: str = "768Mi"
    auth_enabled: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    entry_script: str | None = None
    model_dir: str | None = None
    readiness_path: str = "/ready"
    liveness_path: str = "/"
    startup_timeout_s: int = 300
    read_only_root_filesystem: bool = True
    image_pull_secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_service_name(self.name)
        if not isinstance(self.image, str) or not _IMAGE_REFERENCE.fullmatch(self.image):
            raise InvalidConfiguration(
                f"invalid image reference {self.image!r}: expected [registry/]repository[:tag][@digest] with a "
                "lower-case repository, e.g. 'registry.example.com/diabetes:3'"
            )
        for what in ("port", "service_port"):
            _check_int(what, getattr(self, what), 1, _MAX_PORT)
        _check_int("replicas", self.replicas, 1)
        _check_int("target_cpu_utilization", self.target_cpu_utilization, 1, 100)
        _check_int("startup_timeout_s", self.startup_timeout_s, 1)
        for flag in ("autoscale", "auth_enabled", "read_only_root_filesystem"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidConfiguration(f"invalid value for {flag}, expected True or False (not {getattr(self, flag)!r})")
        self._check_autoscaling()
        self._check_resources()
        object.__setattr__(self, "environment", MappingProxyType(_checked_environment(self.environment)))
        object.__setattr__(self, "labels", MappingProxyType(_checked_labels(self.labels)))
        if self.namespace is not None:
            check_dns_label(self.namespace, what="namespace")
        for what in ("entry_script", "model_dir"):
            value = getattr(self, what)
            if value is not None and (not isinstance(value, str) or not value.strip() or "\0" in value):
                raise InvalidConfiguration(
                    f"invalid value for {what}, expected a path (not {value!r}); pass None for the image's own"
                )
        for what in ("readiness_path", "liveness_path"):
            value = getattr(self, what)
            if not isinstance(value, str) or not value.startswith("/") or any(c.isspace() for c in value):
                raise InvalidConfiguration(f"invalid value for {what}, expected an HTTP path such as '/ready' (not {value!r})")
        if isinstance(self.image_pull_secrets, str):
            raise InvalidConfiguration("image_pull_secrets takes a tuple of Secret names, not one string")
        pull_secrets = tuple(self.image_pull_secrets)
        for secret in pull_secrets:
            check_subdomain(secret, what="image pull Secret name")
        object.__setattr__(self, "image_pull_secrets", pull_secrets)

    @property
    def replica_range(self) -> tuple[int, int] | None:
        """The autoscaler's ``(minimum, maximum)``, or ``None`` without autoscaling."""
        if not self.autoscale:
            return None
        low = self.replicas if self.min_replicas is None else self.min_replicas
        return low, DEFAULT_MAX_REPLICAS if self.max_replicas is None else self.max_replicas

    @property
    def uses_image_command(self) -> bool:
        """Whether the image's own ``CMD`` runs unchanged (no flag needs adding)."""
        return not self.auth_enabled and self.entry_script is None and self.model_dir is None and self.port == IMAGE_PORT

    def _check_autoscaling(self) -> None:
        if not self.autoscale:
            for what in ("min_replicas", "max_replicas"):
                if getattr(self, what) is not None:
                    raise InvalidConfiguration(f"{what} needs autoscale=True; without autoscaling, replicas sets the count")
            return
        for what in ("min_replicas", "max_replicas"):
            if getattr(self, what) is not None:
                _check_int(what, getattr(self, what), 1)
        replica_range = self.replica_range
        assert replica_range is not None
        low, high = replica_range
        if low > high:
            raise InvalidConfiguration(
                f"the autoscaler's minimum ({low} replicas) is above its maximum ({high}); pass max_replicas={low} or more"
            )

    def _check_resources(self) -> None:
        for resource in ("cpu", "memory"):
            request_name, limit_name = f"{resource}_request", f"{resource}_limit"
            request = parse_quantity(getattr(self, request_name), what=request_name)
            limit = parse_quantity(getattr(self, limit_name), what=limit_name)
            if request > limit:
                raise InvalidConfiguration(
                    f"{request_name} {getattr(self, request_name)!r} is above {limit_name} {getattr(self, limit_name)!r}; "
                    "Kubernetes refuses a request above its limit"
                )


def _check_int(what: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise InvalidConfiguration(f"invalid value for {what}, expected a whole number {bounds} (not {value!r})")


def _checked_environment(environment: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(environment, Mapping):
        raise InvalidConfiguration(f"environment takes a mapping of names to values, not {type(environment).__name__}")
    for name, value in environment.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise InvalidConfiguration(
                f"invalid environment variable name {name!r}: use letters, digits, '_', '-' or '.', not starting with a digit"
            )
        if not isinstance(value, str):
            raise InvalidConfiguration(f"environment variable {name} must be a string (not {value!r}); quote numbers")
    return dict(sorted(environment.items()))


def _checked_labels(labels: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise InvalidConfiguration(f"labels takes a mapping of keys to values, not {type(labels).__name__}")
    for key, value in labels.items():
        check_label(key, value)
        if key in RESERVED_LABELS:
            raise InvalidConfiguration(f"label {key!r} is set by mlnb (it identifies the service); choose another key")
    return dict(sorted(labels.items()))
