"""Jobs and sessions: their records, where they are kept, and how they run."""
