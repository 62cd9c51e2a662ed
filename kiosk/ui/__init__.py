"""Qt user interface of the kiosk; the only package that imports Qt."""
