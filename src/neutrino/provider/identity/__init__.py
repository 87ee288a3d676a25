"""Identity served beside the network API: Keystone v3 (and v2.0 tokens), users, projects, tokens."""
