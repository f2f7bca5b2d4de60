"""The ``meshc`` command line.

Every subcommand's arguments are declared here, but its implementation is
imported only when it runs: ``meshc render`` sits in pre-commit hooks and must
not pay for Flask, the policy engines or git.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

PROVIDERS = ("istio", "linkerd")
LINKERD_ROUTING = ("gateway-api", "smi")
ISTIO_API = ("v1", "v1beta1")
CHECK_FORMATS = ("text", "json", "github", "sarif")
ENGINES = ("embedded", "wasm", "opa")


def _spec_render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=PROVIDERS, help="override spec.provider")
    p.add_argument(
        "--linkerd-routing",
        choices=LINKERD_ROUTING,
        default=None,
        help="Linkerd routing API (default: gateway-api; smi for clusters running linkerd-smi)",
    )
    p.add_argument(
        "--istio-api",
        choices=ISTIO_API,
        default=None,
        help="Istio API version to emit (default: v1; v1beta1 for clusters older than Istio 1.22)",
    )
    p.add_argument(
        "--allow-lossy",
        action="store_true",
        help="render features the target cannot express exactly (with a warning) instead of failing",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshc",
        description="Compile one Mesh spec into Istio or Linkerd manifests and enforce it at admission.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("render", help="render a Mesh spec into Kubernetes manifests")
    p.add_argument("spec", help="the Mesh spec file ('-' for stdin)")
    _spec_render_options(p)
    p.add_argument("-o", "--output", metavar="DIR", help="write one file per object into DIR")
    p.add_argument(
        "--check",
        action="store_true",
        help="with -o: write nothing, exit 1 and name the objects if DIR differs from the render",
    )
    p.add_argument(
        "--exit-code",
        action="store_true",
        help="with -o: exit 1 when DIR had to be rewritten (for pre-commit hooks)",
    )
    p.add_argument("--ref", metavar="REV", help="render the spec as committed at this git revision")
    p.set_defaults(handler="meshc.compiler.commands:render")

    p = sub.add_parser("validate", help="validate Mesh spec files without rendering")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.set_defaults(handler="meshc.compiler.commands:validate")

    p = sub.add_parser("schema", help="print the JSON Schema of the Mesh spec")
    p.set_defaults(handler="meshc.compiler.commands:schema")

    p = sub.add_parser(
        "capabilities", help="print the capability matrix (spec feature x target x routing mode)"
    )
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.set_defaults(handler="meshc.compiler.commands:capabilities")

    p = sub.add_parser("check", help="evaluate the admission policies over manifests, offline")
    p.add_argument("--spec", required=True, help="the Mesh spec whose policies apply")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or '-' for stdin")
    p.add_argument("--format", choices=CHECK_FORMATS, default="text")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="embedded",
        help="embedded: rego-cpp (default; quickest to start); wasm: the policies as OPA "
        "compiles them to WebAssembly; opa: an OPA server",
    )
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.add_argument(
        "--operation",
        choices=("CREATE", "UPDATE", "DELETE"),
        default="CREATE",
        help="the admission operation each object is judged as",
    )
    p.set_defaults(handler="meshc.policies.check:run")

    p = sub.add_parser("diff", help="object-level diff of the rendered output between two commits")
    p.add_argument("base", nargs="?", default="HEAD~1")
    p.add_argument("head", nargs="?", default="HEAD")
    p.add_argument("--spec", default="mesh.yaml", help="spec path inside the repository")
    p.add_argument("--repo", default=".", help="the git repository")
    _spec_render_options(p)
    p.set_defaults(handler="meshc.compiler.gitdiff:run")

    webhook = sub.add_parser("webhook", help="the admission webhook")
    wsub = webhook.add_subparsers(dest="webhook_command", metavar="COMMAND", required=True)
    p = wsub.add_parser("serve", help="serve /validate and /mutate over HTTPS")
    p.add_argument("--spec", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="wasm",
        help="wasm: the policies as OPA compiles them to WebAssembly (default; the quickest "
        "to evaluate); embedded: rego-cpp; opa: an OPA server",
    )
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.add_argument("--opa-timeout", type=float, default=2.0, help="seconds")
    p.add_argument(
        "--opa-publish",
        action="store_true",
        help="load the policies and data into the OPA server at start-up (a sidecar OPA); "
        "without it, OPA must already hold them as a bundle",
    )
    p.add_argument(
        "--failure-mode",
        choices=("closed", "open"),
        default="closed",
        help="what to answer when no policy decision can be made (default: deny)",
    )
    p.add_argument("--max-body", type=int, default=3 * 1024 * 1024, help="bytes")
    p.add_argument(
        "--decision-timeout",
        type=float,
        default=4.0,
        help="seconds before an admission without a policy decision gets the failure mode "
        "(keep it under the webhook configuration's timeoutSeconds)",
    )
    p.add_argument(
        "--policies", metavar="DIR", help="evaluate the .rego files in DIR instead of the packaged ones"
    )
    p.set_defaults(handler="meshc.webhook.serve:run")

    certs = sub.add_parser("certs", help="TLS material for the webhook")
    csub = certs.add_subparsers(dest="certs_command", metavar="COMMAND", required=True)
    p = csub.add_parser("generate", help="generate a CA and a serving certificate")
    p.add_argument("--service", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--extra-san", action="append", default=[], metavar="SAN")
    p.add_argument("--days", type=int, default=365)
    p.set_defaults(handler="meshc.webhook.certs:run")

    return parser


def _resolve(handler: str) -> Callable[[argparse.Namespace], int]:
    module, _, func = handler.partition(":")
    fn: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"meshc {version('meshc')}")
        return EXIT_OK
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _resolve(args.handler)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `meshc render | head` closes the pipe early; that is not an error.
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
