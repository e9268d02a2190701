"""`seqctl events serve`: the HTTP receiver for events, opens and clicks."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from seqctl.cli import context
from seqctl.cli.events import events_app
from seqctl.cli.logs import LogFormat, LogFormatOption, log
from seqctl.credentials import shown
from seqctl.engine.messages.tracking import tracking_settings
from seqctl.errors import InputError

DEFAULT_SECRET_ENV = "SEQCTL_EVENTS_SECRET"


@events_app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8787,
    secret_env: Annotated[
        str,
        typer.Option(
            "--secret-env",
            help="Environment variable holding the shared secret that POST /events requires "
            "(Authorization: Bearer SECRET or X-Seqctl-Secret: SECRET).",
        ),
    ] = DEFAULT_SECRET_ENV,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every request to stderr.")
    ] = False,
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Receive events over HTTP (POST /events) and track opens and clicks (/t/...).

    Runs until Ctrl-C.

    Example: seqctl events serve --port 8787
    """
    secret = _secret(secret_env)
    # The same key the tick signs tracked links with (tracking.secret_env, else
    # SEQCTL_EVENTS_SECRET); without tracking configured, the receiver's own secret.
    tracking = tracking_settings(context.config(ctx).data, os.environ)
    tracking_secret = tracking.secret if tracking is not None else secret

    def clock() -> datetime:
        return context.now(ctx)

    from seqctl.engine.incoming.receiver import make_server  # http.server only when serving

    if log_format is LogFormat.JSON:
        context.settings(ctx).log_json = True
    server = make_server(
        context.existing_database(ctx),
        host=host,
        port=port,
        secret=secret,
        tracking_secret=tracking_secret,
        now=clock,
        log=_request_log(log_format) if verbose else None,
    )
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host!s}:{bound_port}"
    log(log_format, "listening", f"listening on {url}", url=url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log(log_format, "stop", "stopped")
    finally:
        server.server_close()


def _request_log(fmt: LogFormat) -> Callable[[dict[str, Any]], None]:
    """Each request as a line on stderr: `client "METHOD path" status`, or a JSON line."""

    def write(fields: dict[str, Any]) -> None:
        if "problem" in fields:
            text = f"{fields['client']} {fields['problem']}"
            log(fmt, "http-problem", text, level="warning", err=True, **fields)
            return
        text = f'{fields["client"]} "{fields["method"]} {fields["path"]}" {fields["status"]}'
        log(fmt, "request", text, err=True, **fields)

    return write


def _secret(name: str) -> bytes:
    value = os.environ.get(name)
    if not value:
        # Not named unless it reads as a variable's name: it may be the secret, typed there.
        which = name if shown(name) else "named by --secret-env"
        raise InputError(f"environment variable {which} is not set: it must hold the secret")
    return value.encode("utf-8")
