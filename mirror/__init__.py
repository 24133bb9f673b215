"""Mirror: read sources and write verified releases into the catalog."""
