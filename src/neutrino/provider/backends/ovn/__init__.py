"""The OVN backend (issue 11): the provider drives OVN's northbound database.

``model`` (the owned rows as values), ``desired`` (provider database → rows, Neutron's mapping),
``groups`` (security groups → Port_Group and ACLs),
``northbound`` (ovsdbapp: read and write the rows; ``commands``, our own ovsdbapp commands where
ovsdbapp's cost as much as there are ports), ``repair`` (compare and write the difference),
``chassis`` (the southbound's chassis mirrored into the agents list, with their liveness),
``backend`` (the :class:`~neutrino.provider.backends.Backend` itself: per-request writes, the
maintenance thread, and the outage policy, described in its docstring).
"""
