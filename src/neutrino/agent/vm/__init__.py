"""VM backends: what stands in for the hypervisor (``netns``: a namespace per guest;
``libvirt``: the domain XML a VDSM host would define)."""
