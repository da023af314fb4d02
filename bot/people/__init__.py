"""People: joining with an invite, roles and the one permission table, their data rights."""
