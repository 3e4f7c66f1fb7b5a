"""The database: engine creation, schema, and migrations applied at start."""
