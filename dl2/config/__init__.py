"""What a command line becomes before anything runs: the schema (types), resolvers, checks
before any work (preflight), what identifies a job (its config hash), the overrides a
checkpoint was trained with, and many settings composed at the cost of a few (compose.py)."""
