"""Chain-scale offer build: every loyalty member's offers computed centrally and written as per-store snapshots."""
