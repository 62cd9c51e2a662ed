"""Card-reader chip drivers; each offers `init()` and `read_uid() -> bytes | None`."""
