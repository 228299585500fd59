"""The model-loading layer: device/dtype choice, family registry, hub/alias/local loading."""
