"""vNIC drivers: each plugs the vNICs of one or more provider plugin types into the datapath.

Drivers are registered by entry point in the group ``neutrino.vnic_drivers`` (name → class) and
chosen per plugin type with ``--vnic-driver PLUGIN_TYPE=DRIVER``.
"""
