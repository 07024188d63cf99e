"""What the test tiers share: the real servers and tools they start, the fake API
server and helm, spec builders and data paths. Tests import from here, never from
each other or from conftest."""
