"""Bundled demo assets (public-domain NASA astronaut clip) and the script that rebuilds them."""
