"""The organization at a glance: daily sign-in roll-ups and the overview built from them."""
