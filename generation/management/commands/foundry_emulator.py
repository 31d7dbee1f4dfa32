from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.emulator.config import (
    DEFAULT_INPUT_BLOCK_TERM,
    DEFAULT_OUTPUT_BLOCK_TERM,
    RENDER_MODES,
    ConfigError,
    EmulatorConfig,
    Fault,
)
from generation.emulator.text_faults import TextFault

# Each render process holds its own interpreter, fonts and caches (~34 MB resident): a large host needs no more than
# a few to keep the server's event loop free.
MAX_DEFAULT_RENDER_PROCESSES = 4


class Command(BaseCommand):
    help = (
        "Run the local Foundry emulator: the Azure OpenAI image API (generations, edits) with real image bytes, "
        "real usage numbers and injectable faults. A dev/test tool, not the model."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency-ms", default="0", help="fixed (2000) or a random range (500-1500)")
        parser.add_argument("--rate-429", type=float, default=0.0, help="share of calls answered 429 (0..1)")
        parser.add_argument("--rate-500", type=float, default=0.0, help="share of calls answered 500 (0..1)")
        parser.add_argument("--retry-after-ms", type=int, default=1000, help="retry hint of injected 429s")
        parser.add_argument("--hang-seconds", type=float, default=300.0, help="how long a hung call hangs")
        parser.add_argument("--fault", choices=[f.value for f in Fault], help="force this fault on every call")
        parser.add_argument(
            "--text-fault",
            choices=[f.value for f in TextFault],
            help="draw the in-image copy wrong on every call (docs/emulator.md, Text faults)",
        )
        parser.add_argument("--rpm", type=int, default=0, help="requests per minute quota (0: unlimited)")
        parser.add_argument("--tpm", type=int, default=0, help="tokens per minute quota (0: unlimited)")
        parser.add_argument(
            "--block-term",
            action="append",
            dest="blocked_terms",
            help=f"input content-filter term, CATEGORY:TERM or TERM (repeatable; default {DEFAULT_INPUT_BLOCK_TERM})",
        )
        parser.add_argument(
            "--block-output-term",
            action="append",
            dest="output_blocked_terms",
            help=f"term whose prompts are blocked at the output stage (default {DEFAULT_OUTPUT_BLOCK_TERM})",
        )
        parser.add_argument(
            "--api-key", action="append", dest="api_keys", help="accepted key (repeatable; default: any key)"
        )
        parser.add_argument("--seed", type=int, help="seed for the random fault draws")
        parser.add_argument(
            "--render",
            choices=RENDER_MODES,
            default="full",
            help="full: the designed picture with its text; plain: a flat colour and the mark (load benchmarks)",
        )
        parser.add_argument(
            "--render-processes",
            type=int,
            default=min(MAX_DEFAULT_RENDER_PROCESSES, os.cpu_count() or 1),
            help="processes drawing designed pictures, so drawing cannot delay the quota's arrival stamps "
            f"(default: one per CPU, at most {MAX_DEFAULT_RENDER_PROCESSES}; 0: threads of the server's process)",
        )
        parser.add_argument(
            "--deployments",
            default=os.environ.get("EMULATOR_DEPLOYMENTS", ""),
            help='the deployment pool, JSON {"deployments": {"east": {"rpm": 6, "region": "eastus"}, ...}} or '
            "@file.json (default: env EMULATOR_DEPLOYMENTS; none: any deployment name, one global quota)",
        )
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="multiplies emulated durations (published latency, schedules): 0.05 runs 20x faster",
        )
        parser.add_argument("--usage-limit", type=int, default=100_000, help="rows the usage export keeps")
        parser.add_argument("--log-level", default="info")

    def handle(self, *args, **options) -> None:
        import uvicorn

        from generation.emulator.app import create_app

        fields = {
            "latency_ms": options["latency_ms"],
            "rate_429": options["rate_429"],
            "rate_500": options["rate_500"],
            "retry_after_ms": options["retry_after_ms"],
            "hang_seconds": options["hang_seconds"],
            "fault": options["fault"],
            "text_fault": options["text_fault"],
            "rpm": options["rpm"],
            "tpm": options["tpm"],
            "api_keys": options["api_keys"] or [],
            "seed": options["seed"],
            "render": options["render"],
            "deployments": self._deployments(options["deployments"]),
            "time_scale": options["time_scale"],
            "usage_limit": options["usage_limit"],
        }
        for name in ("blocked_terms", "output_blocked_terms"):
            if options[name]:
                fields[name] = options[name]
        try:
            config = EmulatorConfig(**fields)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        if options["render_processes"] < 0:
            raise CommandError(f"--render-processes must not be negative (got {options['render_processes']})")
        self.stdout.write(
            f"foundry emulator (dev/test only, not the model) on http://{options['host']}:{options['port']}\n"
            f"  azure: AZURE_OPENAI_ENDPOINT=http://{options['host']}:{options['port']}  "
            f"v1: http://{options['host']}:{options['port']}/openai/v1\n"
            f"  config: {config.to_dict()}, render processes: {options['render_processes']}"
        )
        uvicorn.run(
            create_app(config, render_processes=options["render_processes"]),
            host=options["host"],
            port=options["port"],
            log_level=options["log_level"],
            timeout_graceful_shutdown=5,
        )

    def _deployments(self, value: str) -> dict:
        if not value.strip():
            return {}
        text = value.strip()
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as exc:
                raise CommandError(f"--deployments {value}: {exc}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--deployments: not JSON ({exc})") from None
