"""The service beside the deployer: deploy API, API gateway, metering, billing, vault, store."""
