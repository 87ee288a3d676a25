"""Host networking: the one seam to the kernel (``HostNet``), its kernel and in-memory
implementations, and the idempotent ``ensure_*`` / ``delete_*`` operations built on it."""
