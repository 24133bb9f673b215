"""`python -m datamirror`: the same as the `datamirror` console script."""

from datamirror.cli import main

main()
