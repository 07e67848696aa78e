"""Terminal views of long operations: a deploy's steps, the engine's events, a fleet's stacks."""
