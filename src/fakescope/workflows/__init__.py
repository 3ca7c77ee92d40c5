"""Jobs that chain several steps of the other packages (training, scoring, calibrating)."""
