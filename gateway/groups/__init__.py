"""Groups: named sets of an organization's members, that access rules name and apps receive."""
