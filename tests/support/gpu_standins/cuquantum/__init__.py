"""Stand-in ``cuquantum`` (see ../README.md)."""
