"""Benchmarks and development tooling (the `moodkiosk bench*` commands, the load generator, throw-away local
brokers and databases): kept out of the runtime packages so that none of them depends on another for these."""
