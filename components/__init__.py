"""The Pulumi program: App (the one grouping ComponentResource) and, one folder per vendor, typed
dynamic resources with their providers and clients."""
