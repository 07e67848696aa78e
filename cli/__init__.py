"""The `oneclick` command line: the top layer, one module per command group; nothing imports it."""
