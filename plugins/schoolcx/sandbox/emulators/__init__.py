"""Local servers that speak each vendor's API shape over real sockets, serving generated data."""
