"""Neutrino: VM networks from an external (OpenStack Neutron) network provider."""

__version__ = "0.1.0"
