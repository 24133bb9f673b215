"""Source readers: one module per protocol, all speaking `mirror.sources.base.Source`."""
