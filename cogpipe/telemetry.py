"""OpenTelemetry set-up for ``cogpipe serve`` and ``cogpipe run``: the SDK, an OTLP span
exporter, and FastAPI's server spans, all configured by the standard ``OTEL_*`` variables.

The engine only calls the OpenTelemetry API (:mod:`cogpipe.engine.telemetry`); this
module installs the SDK behind it, so that its spans (and those the ``mcp`` SDK and
FastAPI instrumentation create) are exported. Variables read (OpenTelemetry's own
names, https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
and https://opentelemetry.io/docs/specs/otel/protocol/exporter/):

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``: where spans
  go. Export is off when neither is set.
- ``OTEL_EXPORTER_OTLP_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``:
  ``http/protobuf`` (default) or ``grpc`` (needs ``opentelemetry-exporter-otlp-proto-grpc``
  installed).
- ``OTEL_SERVICE_NAME`` (default ``cogpipe``), ``OTEL_RESOURCE_ATTRIBUTES``.
- ``OTEL_SDK_DISABLED=true``: export off whatever else is set.
- Headers, timeouts, compression, batching (``OTEL_EXPORTER_OTLP_HEADERS``,
  ``OTEL_BSP_*`` ...): read by the SDK's exporter and batch processor themselves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["TelemetryError", "exporting", "instrument_app", "setup_tracing"]

log = logging.getLogger(__name__)

_PROTOCOLS = ("http/protobuf", "grpc")


class TelemetryError(ValueError):
    """Raised when the ``OTEL_*`` variables ask for something that cannot be set up
    (an unknown protocol, or grpc without its exporter package)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _get(env: Mapping[str, str], name: str) -> str | None:
    """Return the traces-specific variable, else the general one (spec precedence)."""
    value = env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}")
    return value.strip() if value and value.strip() else None


def setup_tracing(env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Install the SDK's tracer provider with a batching OTLP exporter, as the ``OTEL_*``
    variables in ``env`` (default: ``os.environ``) say; return it, or ``None`` when
    export is off (no endpoint, or ``OTEL_SDK_DISABLED=true``).

    The provider becomes the process's global one (OpenTelemetry allows setting it once
    per process); call :meth:`TracerProvider.shutdown` on exit to flush what is queued.

    Raises:
        TelemetryError: an unknown protocol, or ``grpc`` without
            ``opentelemetry-exporter-otlp-proto-grpc``.
    """
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    endpoint = _get(env, "ENDPOINT")
    if endpoint is None:
        return None
    protocol = _get(env, "PROTOCOL") or "http/protobuf"
    if protocol not in _PROTOCOLS:
        raise TelemetryError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use one of "
            f"{', '.join(_PROTOCOLS)}"
        )
    from opentelemetry import trace
    from opentelemetry.sdk.resources import OTEL_SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    exporter: SpanExporter
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise TelemetryError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the package "
                "opentelemetry-exporter-otlp-proto-grpc; install it, or use http/protobuf"
            ) from None
        exporter = GrpcExporter(endpoint=endpoint)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if not env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):  # a base URL: add the path
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint)  # headers, timeout: read by it
    name = env.get(OTEL_SERVICE_NAME) or "cogpipe"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("exporting OpenTelemetry spans to %s over %s", endpoint, protocol)
    return provider


@contextmanager
def exporting(env: Mapping[str, str] | None = None) -> Iterator[TracerProvider | None]:
    """Set up export as :func:`setup_tracing` does for the block; at its end flush and
    shut the provider down, so spans still queued are sent before the process exits.

    Raises:
        TelemetryError: as :func:`setup_tracing`.
    """
    provider = setup_tracing(env)
    try:
        yield provider
    finally:
        if provider is not None:
            provider.shutdown()


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Give every HTTP request of ``app`` a server span (FastAPI instrumentation); a run
    a request starts links to that span (:mod:`cogpipe.engine.telemetry`)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # event streams stay open for hours: no span per SSE message or stream
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )
