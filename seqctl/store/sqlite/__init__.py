"""The SQLite store, the embedded default: one file, its connection, schema and faults."""
