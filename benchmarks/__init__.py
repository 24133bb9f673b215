"""datamirror's benchmark harness: peers side by side on the same loopback work, as ratios.

Run `python -m benchmarks.run [--quick] [--only WORKLOAD]`; see benchmarks/README.md.
"""
