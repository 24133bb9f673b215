"""The composition root: the `datamirror` command, the demo, and the one place that opens
a catalog and a store from the settings (`datamirror.runtime`). It sits above `catalog`,
`mirror` and `serve`; none of them imports it."""
