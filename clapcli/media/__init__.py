"""Media kinds other than audio (images for image-text models)."""
