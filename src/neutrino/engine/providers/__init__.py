"""Network providers the engine talks to: the NetworkProvider protocol and its Neutron adapter."""
