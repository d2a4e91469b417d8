"""The cstool command line (Typer): one module per resource."""
