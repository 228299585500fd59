"""``clap download MODEL...``: checkpoints into the Hugging Face cache ahead of time."""

from __future__ import annotations

from typing import Annotated

import typer

from clapcli.console.options import QuietOpt

EPILOG = """\
Examples:

  clap download laion/clap-htsat-unfused          # a hub id

  clap download music audioldm2                   # aliases (see 'clap models')

  HF_HOME=/ci/cache clap download laion/larger_clap_general   # fill a CI cache

Then, offline: HF_HUB_OFFLINE=1 clap embed sounds/ --model laion/clap-htsat-unfused
AudioLDM 2 aliases and ids fetch the whole pipeline. A model already in the cache is not fetched again.
Exit codes: 0 ok, 1 error, 2 usage, 3 some models could not be fetched (the others are in the cache).
"""


def download(
    models: Annotated[list[str], typer.Argument(help="Hub ids or aliases ('clap models').", show_default=False)],
    quiet: QuietOpt = False,
) -> None:
    """Fetch model checkpoints (AudioLDM 2: the whole pipeline) into the Hugging Face cache."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core.download import download as fetch
    from clapcli.errors import ClapcliError
    from clapcli.results import FailedInput

    out = Output(quiet)
    failures = FailureLog(out)
    done = 0
    for name in models:
        try:
            got = fetch(name)
        except ClapcliError as exc:
            failures.add(FailedInput(name, str(exc)))
            continue
        done += 1
        out.note(f"{got.repo_id}: {'downloaded to' if got.fetched else 'already in the cache at'} {got.path}")
    failures.finish(done, "models in the cache", summary=len(models) > 1)


def register(app: typer.Typer) -> None:
    app.command("download", epilog=EPILOG)(download)
