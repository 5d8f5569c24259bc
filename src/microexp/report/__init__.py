"""Reports and result files of ``analyze``."""
