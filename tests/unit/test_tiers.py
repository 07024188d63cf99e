"""The test tiers themselves: every test is marked with its directory's tier, and a
missing real tool skips outside CI but fails in CI."""

from __future__ import annotations

import pytest

from support import tools


def test_a_test_carries_its_tier_marker(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("real") is None


def test_a_missing_tool_skips_with_its_install_command_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool is not installed: apt-get install no-such-tool"):
        tools.on_path("no-such-tool", "apt-get install no-such-tool")


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-tool is not installed"):
        tools.on_path("no-such-tool", "apt-get install no-such-tool")


def test_a_tool_a_script_would_install_is_only_looked_up(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """``--cached`` never builds: with an empty tools directory the test skips at once."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TGICTL_VLLM_PYTHON", raising=False)
    monkeypatch.setenv("TGICTL_TOOLS_DIR", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match="bash scripts/install-vllm.sh"):
        tools.cached("install-vllm.sh", "TGICTL_VLLM_PYTHON")
