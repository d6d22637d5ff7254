"""THE BASELINE BEING COMPARED AGAINST: the original system's anonymisation.

Benchmark use only; vitalstream never uses this. It re-creates the approach
described in /work/shared/origin/000_aa26a57528f08496.txt, so that sealing
can be compared with it on the same records: the readings go into a pandas
DataFrame, and every value of a sensitive column is encrypted on its own
with AES-256 in CFB mode under a fresh random 128-bit IV, the IV and
ciphertext concatenated and Base64-encoded. (CFB without authentication is
what the original used; vitalstream's own format is AES-256-GCM, see
schemas/SEALED-FORMAT.md.)
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Sequence

import pandas as pd  # type: ignore[import-untyped]  # no stubs installed
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from schemas.records import Reading

SENSITIVE_COLUMNS = ("Body_temp", "heartRate", "SP02")
_COLUMN_OF = {"body_temp": "Body_temp", "heart_rate": "heartRate", "spo2": "SP02"}


class OriginalAnonymiser:
    """AES-256-CFB per value, fresh IV, Base64 of IV || ciphertext."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or os.urandom(32)

    def encrypt_value(self, value: object) -> object:
        # A missing value (NaN) stays missing: the comparison then seals
        # exactly the values vitalstream seals, which favours the baseline.
        if isinstance(value, float) and math.isnan(value):
            return value
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(self.key), CFB(iv)).encryptor()
        ciphertext = encryptor.update(str(value).encode()) + encryptor.finalize()
        return base64.b64encode(iv + ciphertext).decode()

    def frame(self, readings: Sequence[Reading]) -> pd.DataFrame:
        """The readings as the original's DataFrame: a timestamp and one column each."""
        rows = []
        for reading in readings:
            row: dict[str, object] = {"timestamp": reading.observed_at}
            for metric, value in reading.metrics.items():
                row[_COLUMN_OF.get(metric, metric)] = value
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        for column in SENSITIVE_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).round(2)
        return frame

    def encrypt_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Encrypt every sensitive column, value by value, as the original did."""
        for column in SENSITIVE_COLUMNS:
            frame[column] = frame[column].apply(self.encrypt_value)
        return frame

    def decrypt_value(self, token: str) -> str:
        """The inverse, to show the baseline is a working round trip."""
        raw = base64.b64decode(token)
        decryptor = Cipher(algorithms.AES(self.key), CFB(raw[:16])).decryptor()
        return (decryptor.update(raw[16:]) + decryptor.finalize()).decode()
