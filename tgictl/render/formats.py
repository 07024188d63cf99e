"""The output formats of `tgictl render`, and which of them run the chart through helm.

Kept apart from the render service (and free of imports) so a render can start helm
for the formats that need it before the spec machinery is imported.
"""

from __future__ import annotations

THROUGH_HELM: dict[str, bool] = {
    "values": False,  # the chart values themselves
    "manifests": True,
    "kustomize": True,
    "argocd": False,  # an Application pointing at the chart or a tree: built here
    "flux": False,  # a HelmRelease or Kustomization: built here
}
