"""The workloads, grouped by the sources and servers they share."""
