"""What sweep.py needs: collecting results.json files, tables, plots and per-study reports."""
