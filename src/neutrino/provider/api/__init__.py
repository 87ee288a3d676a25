"""The Networking API v2.0: resource declarations, query conventions, routes."""
