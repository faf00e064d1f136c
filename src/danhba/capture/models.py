"""Models of the capture app."""
