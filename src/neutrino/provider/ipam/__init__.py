"""IP address management: pure range arithmetic (ranges) and allocation under a per-subnet lock (allocator)."""
