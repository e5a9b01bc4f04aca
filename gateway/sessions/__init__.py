"""Server-side sign-in sessions and the forward-auth endpoint built on them."""
