"""Pulumi entry point: `pulumi up -s <app>` and the Automation API both run this same program."""

from components.program import main

main()
