"""The agent's HTTP server side of the agent API (:mod:`neutrino.agent.api.routes`); the contract
itself, prose and wire models, is :mod:`neutrino.agent_api`."""
