"""What every stage shares: record types, the field policy, the sealed-value format.

See RECORDS.md, POLICY.md and SEALED-FORMAT.md in this folder.
"""
