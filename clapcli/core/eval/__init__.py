"""``clap eval``: checkpoints measured on labelled datasets with the papers' protocols.

- ``datasets``: the layouts (ESC-50, UrbanSound8K, GTZAN, folder of classes, CSV/TSV; Clotho,
  AudioCaps, path,caption CSV) read into plain item lists, with one-line errors naming file and line.
- ``metrics``: numpy only; classification figures as scikit-learn defines them, retrieval figures as
  LAION-CLAP's evaluation code defines them (both checked against those libraries in tests/eval).
- ``classify`` / ``retrieve``: audio embedded once per model (optionally cached in a library by
  content hash), then every figure computed from the one embedding matrix.
- ``presets``: prompt templates and published figures, each with its source.
- ``report``: the JSON report (protocol, figures, per-item predictions).
"""
