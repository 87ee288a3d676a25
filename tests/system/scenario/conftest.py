"""The agent system tests' lab (namespaces, processes, cleanup) serves the engine-driven scenarios too."""

from tests.system.agent.conftest import lab

__all__ = ["lab"]
