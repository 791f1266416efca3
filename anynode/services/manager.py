"""ServiceManager (minimal placeholder until the full manager lands)."""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_NAMES = ("TCP", "REST", "Operator", "Publisher", "Blockchain Sync", "Scheduler", "HA")


@dataclass(frozen=True)
class ServiceStatus:
    """The state of one service as ``get processes`` shows it."""

    name: str
    state: str
    details: str = ""
    restarts: int = 0
    last_error: str | None = None
    policy: str = ""
    started_at: float | None = None


class ServiceManager:
    """Runs the node's services."""

    def statuses(self) -> list[ServiceStatus]:
        """Every known service."""
        return [ServiceStatus(n, "Not declared") for n in SERVICE_NAMES]

    def stop_all(self, timeout: float = 10.0) -> list[str]:
        """Stop everything."""
        return []

    def running(self) -> list[str]:
        """Names of running services."""
        return []

    def stop(self, name: str, timeout: float = 5.0) -> ServiceStatus:
        """Stop one service."""
        from anynode.errors import ServiceError

        raise ServiceError(f"{name} is not running", hint="'get processes' shows what runs")
