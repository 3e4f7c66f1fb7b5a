"""The database: connections, schema, and migrations applied at start."""
