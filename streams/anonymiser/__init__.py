"""The anonymiser stage: raw readings in, anonymised readings (or dead letters) out.

``vitalstream anonymise`` runs :func:`streams.anonymiser.worker.run_worker`.
"""
