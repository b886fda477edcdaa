"""Lightning callbacks that dl2's configs use."""
