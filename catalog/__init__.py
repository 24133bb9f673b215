"""The catalog: data model, database and object store. The lowest layer of datamirror."""
