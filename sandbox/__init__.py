"""The local cloud: an emulator of the vendor control planes oneclick deploys into by default."""
