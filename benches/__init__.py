"""habot's benchmarks: run them all with ``python -m benches`` (see benches/README.md)."""
