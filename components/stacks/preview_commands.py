"""`triton-groups preview-report --stack STACK`: what a preview would change in the group, for a pull request.

Runs `pulumi preview` on the stack (the backend and passphrase `pulumi` itself would use; `--policy-pack` passed
through) and prints `components.core.preview_report.PreviewReport` as Markdown (a pull-request comment) or JSON.
Exits 1 when the preview failed (its errors are in the report), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def _preview_report(args: argparse.Namespace) -> int:
    from components.core.preview_report import PreviewReport  # the handler's imports: other commands skip them
    from components.providers.paths import project_root
    from components.stacks.pulumi_cli import preview_events

    extra = [arg for pack in args.policy_pack or [] for arg in ("--policy-pack", pack)]
    events, _ = preview_events(project_root(), args.stack, extra)
    report = PreviewReport.from_events(args.stack, events)
    print(json.dumps(report.to_json(), indent=2) if args.format == "json" else report.to_markdown(), end="")
    if args.format == "json":
        print()
    return 0 if report.succeeded else 1


def add_preview_parser(commands: Any) -> None:
    """Register `preview-report` on the CLI's sub-parsers."""
    preview = commands.add_parser("preview-report", help="what `pulumi preview` would change in the group, in "
                                                         "Markdown for a pull request (or JSON)")
    preview.add_argument("--stack", required=True, metavar="STACK")
    preview.add_argument("--format", choices=["markdown", "json"], default="markdown")
    preview.add_argument("--policy-pack", action="append", metavar="DIR", help="run this policy pack (repeatable)")
    preview.set_defaults(handler=_preview_report)
