"""Few-shot linear probes on frozen embeddings (``clap train``; ``--probe`` of classify, detect, eval, serve).

``model``: the probe itself and its numpy inference (no torch, no scikit-learn: it runs on exported
runtimes); ``fit``: the scikit-learn fit, strength and blend with the zero-shot text prototypes chosen
by cross-validation; ``store``: the probe directory (safetensors weights, classes, manifest);
``train``: a labelled dataset -> embeddings -> probe. Design notes: docs/probes.md.
"""
