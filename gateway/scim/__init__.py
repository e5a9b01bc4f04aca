"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): an organization's IdP creates, updates and removes its people and groups."""
