"""The tgi.yaml spec: models (``model``), loading (``load``), JSON Schema (``schema``)."""

from pathlib import Path

# The commented starter spec `tgictl init` writes and `tgictl demo` runs on.
STARTER = Path(__file__).resolve().parent / "starter.yaml"
# The starter model's config.json (and generation/tokenizer configs), shipped so the starter
# plans offline: written beside the spec as demo-model/ and named by its model.files.
DEMO_MODEL = Path(__file__).resolve().parent / "demo-model"
_FILES_LINE = "    # files: ./models/smollm2  # local copy of config.json + safetensors, for `tgictl plan`"
_SHIPPED_FILES = "    files: ./demo-model      # the model's config.json: plan and render size the limits from it"


def starter_files(spec_name: str = "tgi.yaml") -> dict[str, str | bytes]:
    """The starter spec, planned from the shipped model config beside it: relative paths, by file."""
    spec_text = STARTER.read_text().replace(_FILES_LINE, _SHIPPED_FILES)
    return {spec_name: spec_text, **{f"demo-model/{p.name}": p.read_bytes() for p in sorted(DEMO_MODEL.iterdir()) if p.is_file()}}
