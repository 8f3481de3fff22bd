"""The settings file every shop pod reads: the database and partner it uses, and its capacity."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..core.context import Context
from ..core.files import write_private


class ServiceCapacity(BaseModel):
    """How much one pod of a service can serve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(8, ge=1, description="Requests one pod serves at once; the rest queue.")
    service_time_ms: float = Field(20.0, ge=0, description="Time every request holds its slot, besides its work.")
    queue_limit: int = Field(64, ge=0, description="Requests allowed to wait; beyond this the pod answers 503.")


class ShopSettings(BaseModel):
    """The settings file every shop pod reads (``<sandbox dir>/shop.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dsn: str = Field(description="PostgreSQL DSN of the shop database (through the fault proxy).")
    partner_url: str = Field(description="Base URL of the payment partner (through the fault proxy).")
    ingress_url: str = Field(description="Base URL of the ingress; the storefront calls the catalog there.")
    db_pool_size: int = Field(4, ge=1, description="Maximum PostgreSQL connections per pod.")
    services: dict[str, ServiceCapacity] = Field(
        default_factory=dict, description="Capacity per service name; missing services take the defaults.")
    db_pool_timeout_s: float = Field(2.0, description="Longest wait for a pooled connection before a 503.")
    db_query_timeout_s: float = Field(5.0, description="Longest time a request may spend on the database.")
    partner_timeout_s: float = Field(5.0, description="Timeout of one call to the payment partner.")
    upstream_timeout_s: float = Field(5.0, description="Timeout of the storefront's calls to the catalog.")
    drain_timeout_s: float = Field(3.0, description="How long in-flight requests may finish after SIGTERM.")

    def capacity(self, service: str) -> ServiceCapacity:
        """The capacity of ``service`` (defaults when not listed)."""
        return self.services.get(service) or ServiceCapacity()


def shop_settings(ctx: Context) -> ShopSettings:
    """The settings the daemon gives every pod: DB and partner through the fault proxy."""
    cfg = ctx.config
    return ShopSettings(
        dsn=f"postgresql://shop:{ctx.secret('shop_db_password')}@127.0.0.1:{ctx.ports['pg_proxy']}/shop",
        partner_url=f"http://127.0.0.1:{ctx.ports['partner_proxy']}",
        ingress_url=ctx.url("ingress"),
        db_pool_size=cfg.db_pool_size,
        services={
            s.name: ServiceCapacity(concurrency=s.concurrency, service_time_ms=s.service_time_ms,
                                    queue_limit=s.queue_limit)
            for s in cfg.services
        },
    )


def write_shop_settings(ctx: Context) -> Path:
    """Write ``ctx.dir/"shop.json"`` from the context; return its path."""
    path = ctx.dir / "shop.json"
    write_private(path, shop_settings(ctx).model_dump_json(indent=2))  # 0600: the DSN holds a password
    return path


def load_settings(path: Path) -> ShopSettings:
    """Read a settings file."""
    return ShopSettings.model_validate_json(Path(path).read_text())
