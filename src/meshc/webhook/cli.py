"""The webhook's subcommands: ``meshc webhook serve`` and ``meshc certs generate``."""

from __future__ import annotations

from typing import Any

from meshc.options import add_output, add_spec, port, positive_int, positive_seconds
from meshc.policies.engine import DEFAULT_ENGINE, ENGINE_NAMES, engine_help

from .decision import FAILURE_MODES
from .settings import DEFAULT_MAX_BODY


def register(sub: Any) -> None:
    webhook = sub.add_parser("webhook", help="the admission webhook")
    wsub = webhook.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    p = wsub.add_parser("serve", help="serve /validate and /mutate over HTTPS")
    add_spec(p, required=True, help="the Mesh spec to enforce; edits are picked up while serving")
    p.add_argument("--cert", required=True, help="the serving certificate (PEM)")
    p.add_argument("--key", required=True, help="its private key (PEM)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=port, default=8443)
    p.add_argument("--workers", type=positive_int, default=2, help="server processes")
    p.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default=DEFAULT_ENGINE,
        help=engine_help(),
    )
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.add_argument("--opa-timeout", type=positive_seconds, default=2.0, help="seconds")
    p.add_argument(
        "--opa-publish",
        action="store_true",
        help="load the policies and data into the OPA server at start-up (a sidecar OPA); "
        "without it, OPA must already hold them as a bundle",
    )
    p.add_argument(
        "--failure-mode",
        choices=FAILURE_MODES,
        default="closed",
        help="what to answer when no policy decision can be made (default: deny)",
    )
    p.add_argument("--max-body", type=positive_int, default=DEFAULT_MAX_BODY, help="bytes")
    p.add_argument(
        "--decision-timeout",
        type=positive_seconds,
        default=4.0,
        help="seconds before an admission without a policy decision gets the failure mode "
        "(keep it under the webhook configuration's timeoutSeconds)",
    )
    p.add_argument(
        "--policies",
        metavar="DIR",
        help="evaluate the .rego files in DIR instead of the packaged ones",
    )
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="ID",
        help="evaluate only the policy ID (repeatable; default: every policy): a diagnostic "
        "and benchmarking aid; every answer then carries a warning naming what is evaluated",
    )
    p.set_defaults(handler="meshc.webhook.serve:run")

    certs = sub.add_parser("certs", help="TLS material for the webhook")
    csub = certs.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    p = csub.add_parser("generate", help="generate a CA and a serving certificate")
    p.add_argument("--service", required=True, help="the webhook's Service name")
    p.add_argument("--namespace", required=True, help="the webhook's namespace")
    add_output(p, "write ca.crt, tls.crt and tls.key into DIR", required=True)
    p.add_argument(
        "--extra-san",
        action="append",
        default=[],
        metavar="SAN",
        help="another DNS name or IP address the certificate is valid for",
    )
    p.add_argument("--days", type=positive_int, default=365, help="validity in days")
    p.set_defaults(handler="meshc.webhook.certs:run")
