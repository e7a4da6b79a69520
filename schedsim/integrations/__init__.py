"""Adapters that put schedsim schedulers inside RL trainers (optional extras; importing schedsim loads none)."""
