"""``clap generate``: text-to-audio with AudioLDM 2, Stable Audio Open or Stable Audio 3 (thin: parse options,
call core, write files).

One piece (just over 300 lines): most of it is the option declarations with their help text, the
list users read in ``clap generate --help``; the function bodies are short.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from clapcli.console.options import (
    GENERATE_FORMATS,
    DeviceOpt,
    GenerateDtypeOpt,
    OverwriteOpt,
    QuietOpt,
    Scheduler,
    comma_choices,
    plain,
)
from clapcli.console.output import Output

EPILOG = """\
Examples:

  clap generate "rain in a forest" --output rain.wav

  clap generate "techno beat, 128 bpm" --model music --seconds 20 --steps 50 --seed 7 --output beat.wav

  clap generate "a dog barking" --negative "low quality" --candidates 3 --output dog.wav   # best of 3 by CLAP

  clap generate --prompts-file prompts.txt --output-dir out/ --format flac

  clap generate "a calm female voice" --model tts-gigaspeech --transcription "hello world" -o hello.wav

  clap generate "glass shatters on a tiled floor" --model stable-audio-open --seconds 5 -o glass.wav

  clap generate "the same, with rain" --model ./sa3-small --init-audio glass.wav --strength 0.6 -o v.wav

Defaults follow the model. AudioLDM 2: DPM-Solver++ with 20 steps (about 10x faster than the pipeline's
200 DDIM steps at similar quality), guidance 3.5, its 10.24 s length, 16 kHz mono. Stable Audio Open:
100 steps, guidance 7, 10 s (47.55 s at most), 44.1 kHz stereo. Stable Audio 3: 8 steps, guidance 1
(distilled), 10 s (its duration embedder's maximum at most), 44.1 kHz stereo. The seed used is always
reported.
Exit codes: 0 ok, 1 error, 2 usage, 3 some prompts failed (the others are written).
"""

SUMMARY_FORMATS = ("json", "jsonl")
DEFAULT_MODEL_HELP = ("Hub id, alias (audioldm2, large, audioldm2-music, tts-gigaspeech, tts-ljspeech, "
                      "stable-audio-open) or local directory (AudioLDM 2, Stable Audio Open, Stable Audio 3).")


PromptsArg = Annotated[list[str] | None, typer.Argument(help="What to generate; several prompts run as a batch.",
                                                       show_default=False)]
PromptsFileOpt = Annotated[str | None, typer.Option("--prompts-file", "-p", help="One prompt per line (- for "
                                                    "stdin).", show_default=False)]
AudioOutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Audio file for a single prompt (.wav, "
                                                     ".flac, .ogg). Default: a name made from the prompt.",
                                                     show_default=False, dir_okay=False)]
OutputDirOpt = Annotated[Path | None, typer.Option("--output-dir", "-d", help="Directory for the files (created if "
                                                   "missing); names: NNN-prompt-words.EXT.", show_default=False,
                                                   file_okay=False)]
FormatsOpt = Annotated[list[str] | None, typer.Option(
    "--format", "-f", metavar="<wav|flac|ogg|json|jsonl>", callback=comma_choices(GENERATE_FORMATS, "--format"),
    help="wav, flac or ogg for the audio; json or jsonl prints a summary (prompt, seed, model, steps, file, CLAP "
    "score) on stdout. Repeatable or comma-separated.", show_default=False)]
NegativeOpt = Annotated[str | None, typer.Option("--negative", "-n", help="What to steer away from, e.g. "
                                                 "\"low quality\".", show_default=False)]
StepsOpt = Annotated[int | None, typer.Option("--steps", "-s", help="Denoising steps. Default: the model's "
                                              "(AudioLDM 2: 20, Stable Audio Open: 100, Stable Audio 3: 8).",
                                              show_default=False)]
GuidanceOpt = Annotated[float | None, typer.Option("--guidance", "-g", help="Classifier-free guidance scale "
                                                   "(<= 1 turns it off). Default: the model's (AudioLDM 2: 3.5, "
                                                   "Stable Audio Open: 7, Stable Audio 3: 1).", show_default=False)]
SecondsOpt = Annotated[float | None, typer.Option("--seconds", "-L", help="Length. Default: AudioLDM 2 10.24 s "
                                                  "(up to 6x that), Stable Audio 10 s (up to the model's maximum).",
                                                  show_default=False)]
CandidatesOpt = Annotated[int, typer.Option("--candidates", "-b", help="Generate N per prompt and keep the "
                                            "best (best of N) by CLAP text-audio score (Stable Audio: by the default "
                                            "embedding model, on a mono copy at its rate).")]
# -t and -c were --seconds and --candidates in 0.1, but are --text and --collection elsewhere: hidden,
# with a deprecation warning, until the next release.
SecondsOldOpt = Annotated[float | None, typer.Option("-t", hidden=True, show_default=False)]
CandidatesOldOpt = Annotated[int | None, typer.Option("-c", hidden=True, show_default=False)]
KeepCandidatesOpt = Annotated[bool, typer.Option("--keep-candidates", help="Also write the other candidates "
                                                 "(NAME.2.wav, ... in rank order).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Same seed, same file. Default: random (reported).",
                                             show_default=False)]
SchedulerOpt = Annotated[Scheduler | None, typer.Option(
    "--scheduler", case_sensitive=False, callback=plain, help="dpm (default), dpm-sde, ddim, unipc, euler, euler-a, "
    "heun, lms or pndm (AudioLDM 2; Stable Audio runs its own).", show_default=False)]
TranscriptionOpt = Annotated[str | None, typer.Option("--transcription", help="Words to speak (text-to-speech "
                                                      "checkpoints such as tts-gigaspeech).", show_default=False)]
SampleRateOpt = Annotated[int | None, typer.Option("--sample-rate", "-r", min=8000, max=192000, help="Resample "
                                                   "the output (AudioLDM 2 makes 16 kHz, Stable Audio 44.1 kHz).",
                                                   show_default=False)]
TagsOpt = Annotated[bool, typer.Option("--tags", help="Store prompt, seed, model and settings in the file's "
                                       "tags too.")]
PromptBatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Inputs per forward pass of the model: "
                                             "here prompts (each makes --candidates waveforms).")]
GenerateModelOpt = Annotated[str | None, typer.Option("--model", "-m", help=DEFAULT_MODEL_HELP + " Default: "
                                                      "cvssp/audioldm2.", show_default=False)]
InitAudioOpt = Annotated[Path | None, typer.Option("--init-audio", help="Stable Audio 3: start from this "
                                                  "recording (a variation; diffusers' audio-to-audio pipeline).",
                                                  show_default=False, dir_okay=False)]
StrengthOpt = Annotated[float | None, typer.Option("--strength", help="With --init-audio: how much noise goes over the "
                                                   "recording, 0-1 (diffusers' init_noise_level; 1 keeps nothing of "
                                                   "it). Default: 1.", show_default=False)]
InpaintOpt = Annotated[Path | None, typer.Option("--inpaint", help="Stable Audio 3: regenerate the span --mask-start "
                                                 ".. --mask-end of this recording, keeping the rest.",
                                                 show_default=False, dir_okay=False)]
MaskStartOpt = Annotated[float | None, typer.Option("--mask-start", help="With --inpaint: start of the span to "
                                                    "regenerate, in seconds.", show_default=False)]
MaskEndOpt = Annotated[float | None, typer.Option("--mask-end", help="With --inpaint: end of the span, in seconds.",
                                                  show_default=False)]
CpuOffloadOpt = Annotated[bool, typer.Option("--cpu-offload", help="Keep weights in CPU memory and move each "
                                             "model to the GPU only while it runs (small GPUs).")]


def generate(
    prompts: PromptsArg = None,
    prompts_file: PromptsFileOpt = None,
    output: AudioOutputOpt = None,
    output_dir: OutputDirOpt = None,
    fmt: FormatsOpt = None,
    negative: NegativeOpt = None,
    steps: StepsOpt = None,
    guidance: GuidanceOpt = None,
    seconds: SecondsOpt = None,
    candidates: CandidatesOpt = 1,
    seconds_old: SecondsOldOpt = None,
    candidates_old: CandidatesOldOpt = None,
    keep_candidates: KeepCandidatesOpt = False,
    seed: SeedOpt = None,
    scheduler: SchedulerOpt = None,
    transcription: TranscriptionOpt = None,
    sample_rate: SampleRateOpt = None,
    tags: TagsOpt = False,
    batch_size: PromptBatchOpt = 4,
    model: GenerateModelOpt = None,
    device: DeviceOpt = None,
    dtype: GenerateDtypeOpt = "auto",
    cpu_offload: CpuOffloadOpt = False,
    init_audio: InitAudioOpt = None,
    strength: StrengthOpt = None,
    inpaint: InpaintOpt = None,
    mask_start: MaskStartOpt = None,
    mask_end: MaskEndOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Generate audio from text with AudioLDM 2, Stable Audio Open or Stable Audio 3 (sound effects, music)."""
    from clapcli.core.generate import GenerationSettings, open_generator
    from clapcli.core.generate.output import audio_format
    from clapcli.errors import UsageError

    seconds, candidates = _old_short_flags(seconds, seconds_old, candidates, candidates_old, quiet)
    prompt_list = _collect_prompts(prompts, prompts_file)
    audio_fmt, summary_fmt = _split_formats(fmt, output)
    targets = _targets(prompt_list, output, output_dir, audio_format(output, audio_fmt), overwrite)
    settings = GenerationSettings(  # steps, guidance, scheduler: None = the model's own defaults
        steps=steps, guidance=guidance, seconds=seconds, negative=negative, candidates=candidates, seed=seed,
        scheduler=scheduler, transcription=transcription, strength=strength, mask_start=mask_start,
        mask_end=mask_end, init_audio=None if init_audio is None else str(init_audio),
        inpaint=None if inpaint is None else str(inpaint),
    )
    if keep_candidates and candidates < 2:
        raise UsageError("--keep-candidates needs --candidates 2 or more")
    generator = open_generator(model, device, dtype, cpu_offload)
    files = _Files(targets, sample_rate, tags, keep_candidates, overwrite, Output(quiet))
    batch_size = min(batch_size, getattr(generator, "max_batch", batch_size))  # Stable Audio: a prompt per call
    files.run(generator, prompt_list, generator.check(settings), batch_size, summary_fmt)


class _Files:
    """Writes each prompt's result to its target as it comes, the summary (json, jsonl) to stdout."""

    def __init__(self, targets: list[Path], sample_rate: int | None, tags: bool, keep: bool, overwrite: bool,
                 out: Output) -> None:
        from clapcli.console.common import FailureLog

        self.targets, self.sample_rate, self.tags, self.keep = targets, sample_rate, tags, keep
        self.overwrite, self.out = overwrite, out
        self.failures = FailureLog(out)

    def run(self, generator: Any, prompts: list[str], settings: Any, batch_size: int, summary_fmt: str | None) -> None:
        records: list[dict] = []
        batches = -(-len(prompts) // batch_size)
        with self.out.progress(batches * generator.planned_steps(settings), "generating") as advance:
            results = generator.generate_many(prompts, settings, batch_size, on_step=advance)
            for index, result in enumerate(results):  # one per prompt, in order
                record = _handle(result, self.targets[index], self.sample_rate, self.tags, self.keep, self.failures,
                                 self.out, self.overwrite)
                records.append(record)
                if summary_fmt == "jsonl":
                    self.out.jsonl(record)
        if summary_fmt == "json":
            self.out.json(records)
        self.failures.finish(len(prompts) - len(self.failures.failed), "files written")


# ---------------------------------------------------------------------- options


def _old_short_flags(seconds: float | None, seconds_old: float | None, candidates: int, candidates_old: int | None,
                     quiet: bool) -> tuple[float | None, int]:
    """-t / -c (0.1's short flags of --seconds / --candidates) still work, with one warning each."""
    from clapcli.errors import UsageError

    for old, new, short, given in (("-t", "--seconds", "-L", seconds_old is not None),
                                   ("-c", "--candidates", "-b", candidates_old is not None)):
        if given and not quiet:
            Output(quiet).warning(f"{old} is now {new} ({short}): {old} means --text or --collection in the other "
                                  "commands; the old flag goes in the next release")
    if seconds_old is not None:
        if seconds is not None:
            raise UsageError("give --seconds once (-t is its old short flag)")
        seconds = seconds_old
    if candidates_old is not None:
        if candidates != 1:
            raise UsageError("give --candidates once (-c is its old short flag)")
        candidates = candidates_old
    return seconds, candidates


def _collect_prompts(prompts: list[str] | None, prompts_file: str | None) -> list[str]:
    from clapcli.errors import UsageError
    from clapcli.io.readers import read_text_file

    given = list(prompts or [])
    for prompt in given:
        if not prompt.strip():
            raise UsageError("the prompt is empty; describe the sound to generate, e.g. clap generate \"rain\"")
    from_file = read_text_file(prompts_file, "prompts") if prompts_file else []
    if prompts_file and not from_file:
        raise UsageError(f"prompts file '{prompts_file}' has no prompts (one per line)")
    if not given and not from_file:
        raise UsageError("give a prompt, e.g. clap generate \"rain in a forest\", or --prompts-file FILE")
    return given + from_file


def _split_formats(values: list[str] | None, output: Path | None) -> tuple[str | None, str | None]:
    from clapcli.console.options import split_values
    from clapcli.core.generate.output import AUDIO_FORMATS
    from clapcli.errors import UsageError

    audio, summary = None, None
    for value in (v.lower() for v in split_values(values)):
        if value in AUDIO_FORMATS:
            audio = value
        elif value in SUMMARY_FORMATS:
            summary = value
        else:
            raise UsageError(f"--format {value}: choose wav, flac or ogg (audio) and/or json or jsonl (summary)")
    if audio and output is not None and output.suffix and output.suffix.lower().lstrip(".") != audio:
        raise UsageError(f"--format {audio} contradicts --output {output}; use a .{audio} name")
    return audio, summary


def _slug(prompt: str, limit: int = 48) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")
    return (words[:limit].rstrip("-") or "audio")


def _targets(prompts: list[str], output: Path | None, output_dir: Path | None, fmt: str,
             overwrite: bool) -> list[Path]:
    """Output file per prompt, all checked before the model is loaded (no wasted generation)."""
    from clapcli.errors import UsageError
    from clapcli.io.writers import check_output_path

    if output is not None and output_dir is not None:
        raise UsageError("give --output FILE or --output-dir DIR, not both")
    if output is not None and len(prompts) > 1:
        raise UsageError(f"--output names one file but there are {len(prompts)} prompts; use --output-dir DIR")
    if output is not None:
        paths = [output if output.suffix else output.with_suffix(f".{fmt}")]
    else:
        paths = _named_files(prompts, output_dir, fmt)
    for path in paths:
        check_output_path(path, overwrite)
    return paths


def _named_files(prompts: list[str], output_dir: Path | None, fmt: str) -> list[Path]:
    """Names made from the prompts, in --output-dir (created) or here; numbered when there are several."""
    from clapcli.errors import OutputError

    if output_dir is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--output-dir {output_dir}: cannot create it ({exc.strerror or exc})") from None
    folder, single = output_dir or Path("."), len(prompts) == 1
    return [folder / (f"{_slug(p)}.{fmt}" if single else f"{i:03d}-{_slug(p)}.{fmt}")
            for i, p in enumerate(prompts, start=1)]


# ---------------------------------------------------------------------- results


def _handle(result, target: Path, sample_rate: int | None, tags: bool, keep: bool, failures, out: Output,
            overwrite: bool) -> dict:
    from clapcli.core.generate.output import audio_format, file_tags, prepare_samples, write_audio_file
    from clapcli.errors import ClapcliError
    from clapcli.results import FailedInput

    if isinstance(result, FailedInput):
        failures.add(result)
        return {"prompt": result.source, "error": result.reason}
    fmt = audio_format(target, None)
    record = {**result.metadata(), "path": str(target)}
    try:
        samples, rate, gain = prepare_samples(result.samples, result.sample_rate, sample_rate)
        record.update(sample_rate=rate, format=fmt, gain=round(gain, 6))
        write_audio_file(target, samples, rate, fmt, file_tags(record) if tags else None, overwrite)
        if keep:
            record["alternatives"] = _write_alternatives(result, target, sample_rate, fmt, tags, record, overwrite)
    except (ClapcliError, OSError) as exc:
        reason = str(exc) if isinstance(exc, ClapcliError) else f"{target}: cannot write ({exc})"
        failures.add(FailedInput(result.prompt, reason))
        return {"prompt": result.prompt, "error": reason}
    score = "" if result.score is None else f", CLAP {result.score:.3f}"
    out.note(f"wrote {target} ({result.seconds:.2f} s, seed {result.seed}{score})")
    return record


def _write_alternatives(result, target: Path, sample_rate: int | None, fmt: str, tags: bool, record: dict,
                        overwrite: bool) -> list[str]:
    from clapcli.core.generate.output import file_tags, prepare_samples, write_audio_file

    written = []
    for rank, samples in enumerate(result.alternatives, start=2):
        path = target.with_name(f"{target.stem}.{rank}{target.suffix}")
        audio, rate, _ = prepare_samples(samples, result.sample_rate, sample_rate)
        write_audio_file(path, audio, rate, fmt, file_tags({**record, "rank": rank}) if tags else None, overwrite)
        written.append(str(path))
    return written


def register(app: typer.Typer) -> None:
    app.command("generate", epilog=EPILOG)(generate)
