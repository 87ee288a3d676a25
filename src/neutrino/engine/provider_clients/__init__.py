"""The engine as a client of network providers: the NetworkProvider protocol, its Neutron adapter (over
neutrino.neutron_client), the per-provider client factory and the trust of imported CA certificates."""
