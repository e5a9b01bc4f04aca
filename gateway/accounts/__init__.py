"""People: users, passwords, sign-in and sign-up."""
