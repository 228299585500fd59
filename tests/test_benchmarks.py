"""The benchmark scripts run end to end on the tiny model and print their ratio lines.

No wall times are asserted (the machine is shared); only that each script completes and reports.
They run in this process (shared imports, the session's tiny model) except where the script itself
spawns fresh processes (startup, memory).
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RATIO = re.compile(r"^RATIO (\S+)\s+(\S+)\s+target .+ (PASS|MISS)$", re.M)

SCRIPTS = {
    "bench_features.py": (["--files", "2"], {"features_speedup_1thread", "features_max_diff_db"}),
    "bench_classify.py": (["--files", "2", "--labels", "3"], {"classify_speedup", "classify_top1_agreement"}),
    "bench_eval.py": (["--files", "3"], {"eval_time_over_embed"}),
    "bench_embed.py": (["--files", "2", "--sweep", "1,2"], {"embed_speedup_vs_card", "embed_time_over_forward_alone"}),
    "bench_cpu_precision.py": (["--files", "1"], {"audio_bfloat16_min_cosine", "audio_int8_min_cosine",
                                                  "text_int8_speedup"}),
    "bench_startup.py": (["--labels", "3"], {"help_seconds", "help_imports_torch", "classify_one_file_over_script"}),
    "bench_memory.py": (["--files", "4"], {"memory_peak_ratio"}),
    "bench_long_audio.py": (["--short-minutes", "1.2", "--long-minutes", "3"], {"long_audio_peak_ratio_tiny"}),
    "bench_detect.py": (["--minutes", "1", "--short-minutes", "1.2", "--long-minutes", "3"],
                        {"detect_time_over_embed", "detect_peak_ratio"}),
    "bench_serve.py": (["--rows", "500", "--requests", "16", "--clients", "1,4"], {"serve_batching_rps_ratio"}),
    "bench_runtime.py": (["--files", "2", "--startup-repeats", "1"],
                         {"audio_onnx_fp32_max_diff", "audio_openvino_fp32_speedup", "text_openvino_fp32_max_diff",
                          "startup_export_imports_torch"}),
    "bench_runtime_default.py": (["--files", "64"], {"first_run_vs_torch", "later_runs_speedup", "max_abs_diff"}),
    "bench_dedupe.py": ([], {"dedupe_over_topk_pass", "dedupe_planted_groups_exact"}),
    "bench_map.py": ([], {"map_pca_minutes_per_100k"}),
    "bench_pe_audio.py": (["--files", "2", "--labels", "3"], {"pe_classify_speedup", "pe_embed_speedup",
                                                             "pe_classify_max_score_diff", "pe_embed_min_cosine"}),
    "bench_generate_stable_audio.py": ([], {"sa3_float32_overhead", "sa3_bfloat16_speedup"}),
    "bench_sa3_steps.py": ([], {"sa3_float32_step_share", "sa3_bfloat16_step_speedup"}),
    "bench_embed_runtime.py": (["--files", "2", "--sides", "openvino exact"],
                               {"audio_openvino_exact_max_diff", "text_openvino_exact_speedup"}),
    "bench_probe.py": (["--files", "2"], {"probe_train_over_embed_2000", "probe_classify_time_ratio"}),
    "bench_pe_export.py": (["--files", "2", "--minutes", "0.3"],
                           {"pe_onnx_exact_max_diff", "pe_openvino_fast_min_cosine", "detect_pe_over_clap_hop5_time"}),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, tiny_clap: Path) -> Path:
    """A benchmark cache dir whose tiny model is the session's (built once)."""
    directory = tmp_path_factory.mktemp("bench-work")
    (directory / "tiny-clap").symlink_to(tiny_clap)
    return directory


# These spawn fresh ``clap``/python processes (torch + transformers imports each): ``-m "not slow"`` skips them.
SPAWNING = {"bench_startup.py", "bench_memory.py", "bench_long_audio.py", "bench_detect.py",
            "bench_runtime.py", "bench_embed_runtime.py", "bench_runtime_default.py", "bench_pe_export.py"}


@pytest.mark.parametrize(
    "script", [pytest.param(s, marks=pytest.mark.slow) if s in SPAWNING else s for s in SCRIPTS]
)
def test_benchmark_script_reports_ratios(script: str, work: Path, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    extra, expected = SCRIPTS[script]
    argv = [script, "--tiny", "--repeats", "1", "--seconds", "1", "--work", str(work), *extra]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    printed = capsys.readouterr().out
    reported = {name for name, _, _ in RATIO.findall(printed)}
    assert expected <= reported, printed
