"""Original MS-CLAP (``CLAP_weights_2023.pth``) and LAION-CLAP (``*.pt``) checkpoints -> Hugging Face form.

Checkpoint-format knowledge lives here, in the models layer, because ``conversion.on_first_use``
converts original files on first use as well as ``clap convert`` does. Modules:

- ``checkpoint``: reading an original with ``torch.load(weights_only=True)`` (pickled code is refused);
- ``recipes``: one ``Recipe`` per family (key prefixes, dropped keys, config, model class, processor);
- ``keys`` and ``shapes``: key mapping shared by every recipe, sizes read from tensor shapes;
- ``tokenizer``: the tokenizer saved beside the model, refused when it is a placeholder;
- ``output_dir``: the output directory's safety (manifest, staging, swap);
- ``convert``: ``convert_checkpoint``, the driver.

Importing this package does not import torch or transformers.
"""

from __future__ import annotations

from clapcli.models.conversion.checkpoint import load_original_state_dict
from clapcli.models.conversion.convert import ConversionReport, convert_checkpoint
from clapcli.models.conversion.recipes import FAMILIES, RECIPES, Recipe
from clapcli.models.conversion.tokenizer import TokenizerUnavailable, load_tokenizer

__all__ = [
    "FAMILIES",
    "RECIPES",
    "ConversionReport",
    "Recipe",
    "TokenizerUnavailable",
    "convert_checkpoint",
    "load_original_state_dict",
    "load_tokenizer",
]
