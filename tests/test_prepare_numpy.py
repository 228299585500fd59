"""``prepare`` runs in the decode threads and must not run torch ops (EmbeddingModel.prepare).

A parallel torch op in a decode thread starts an OpenMP team there, alive as long as the thread;
libgomp then manages more threads than cores and the model's forward passes ran 20-25% slower on
2 cores (benchmarks/README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from audio_fixtures import noise
from torch_calls import torch_calls_in

from clapcli.models.loading import load_embedding_model


@pytest.mark.parametrize("seconds", [3.0, 25.0])  # one window; several windows ("mean")
def test_laion_prepare_is_numpy_only(loaded_clap, seconds: float) -> None:
    calls, item = torch_calls_in(loaded_clap.prepare, noise(seconds, loaded_clap.sample_rate, seed=1))
    assert calls == []
    assert isinstance(item.window_mels, np.ndarray) and item.window_mels.dtype == np.float32
    assert item.window_mels.shape[0] == item.cost


def test_fused_prepare_is_numpy_only_and_fuses_in_the_model_thread(tiny_clap_fused) -> None:
    model = load_embedding_model(str(tiny_clap_fused), device="cpu")
    clip = noise(25.0, model.sample_rate, seed=2)
    calls, item = torch_calls_in(model.prepare, clip)
    assert calls == []
    assert item.fusion and isinstance(item.whole_mel, np.ndarray)
    # Same numbers as the raw path (features computed from the samples in encode_prepared).
    assert torch.equal(model.encode_prepared([item]), model.encode_prepared([model.cut(clip)]))


THREAD_CHECK = """
import os, sys, threading
import numpy as np, torch, tqdm
from clapcli.models.loading import load_embedding_model
tqdm.tqdm.monitor_interval = 0  # no tqdm monitor thread coming and going
torch.set_num_threads(2)
model = load_embedding_model(sys.argv[1], device="cpu")
clip = np.random.default_rng(3).standard_normal(10 * model.sample_rate).astype(np.float32) * 0.1
model.prepare(clip)  # warm-up on the main thread: caches, BLAS pools (the main thread's torch team exists)
prepared, release = threading.Event(), threading.Event()

def decode_thread():
    for _ in range(2):
        model.prepare(clip)
    prepared.set()
    release.wait()  # counted while alive: an OpenMP team lives as long as the thread that started it

before = len(os.listdir("/proc/self/task"))
worker = threading.Thread(target=decode_thread)
worker.start()
prepared.wait()
print(before, len(os.listdir("/proc/self/task")))
release.set()
worker.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc/self/task")
def test_decode_threads_start_no_torch_thread_team(tiny_clap) -> None:
    """What the rule is for: a decode thread preparing full 10 s clips starts no OpenMP threads
    (in a fresh process, so threads of other tests cannot blur the count)."""
    done = subprocess.run([sys.executable, "-c", THREAD_CHECK, str(tiny_clap)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    before, during = map(int, done.stdout.split())
    assert during == before + 1  # the decode thread itself, and no thread team of its own
