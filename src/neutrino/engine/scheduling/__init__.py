"""Choosing the host a VM runs on: filters that exclude hosts (each saying why) and a weight."""
