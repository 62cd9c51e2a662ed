"""Pure firmware logic (no `machine` import): runs on the board and under CPython in the tests."""
