## The map's API (issue 16): what /audit calls what it writes

audit-action-where-org = where (org)
