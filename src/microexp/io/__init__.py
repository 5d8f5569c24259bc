"""Input/output: decoding videos and frame folders, atomic writes."""
