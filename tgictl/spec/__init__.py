"""The tgi.yaml spec: models (``model``), loading (``load``), JSON Schema (``schema``)."""

from pathlib import Path

# The commented starter spec `tgictl init` writes and `tgictl demo` runs on.
STARTER = Path(__file__).resolve().parent / "starter.yaml"
