"""What Helm keeps of a release, and going back: its revisions, a rollback,
and uninstalling it (the model cache it created stays)."""

from __future__ import annotations

from typing import Any

from tgictl.adapters import helm
from tgictl.errors import UsageError
from tgictl.render.manifests import namespace_of
from tgictl.spec.model import Spec


def revisions(spec: Spec, context: str | None = None) -> list[dict[str, Any]]:
    """Helm's revisions of the release, oldest first; refuses a release that is not installed."""
    found = helm.history(spec.metadata.name, namespace_of(spec), context)
    if not found:
        raise UsageError(f"{spec.metadata.name} is not installed in {namespace_of(spec)}")
    return found


def rollback(spec: Spec, context: str | None = None, revision: int | None = None) -> int:
    """Return to ``revision`` (the one before the current when unset); returns it."""
    if revision is None:
        found = helm.history(spec.metadata.name, namespace_of(spec), context)
        if len(found) < 2:
            raise UsageError(f"{spec.metadata.name} has no earlier revision to return to")
        revision = int(found[-2]["revision"])
    helm.rollback(spec.metadata.name, namespace_of(spec), revision, context)
    return revision


def delete(spec: Spec, context: str | None = None, wait: bool = True) -> str | None:
    """Uninstall the release; returns the cache PVC left behind (None when it made none)."""
    helm.uninstall(spec.metadata.name, namespace_of(spec), context, wait=wait)
    cache = spec.spec.cache
    return None if cache.ephemeral or cache.existing_claim else f"{spec.metadata.name}-cache"  # an existing claim is not ours
