"""Registered applications: who may reach which app behind the gateway."""
