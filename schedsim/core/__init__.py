"""Core types: prompt pool, feedback, the scheduler protocol, the registry, errors, seeding."""
