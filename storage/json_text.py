"""JSON as the repositories store it: compact, with non-ASCII letters kept as they are."""

from __future__ import annotations

import json

# One encoder for every dump: json.dumps builds a new one per call when given options.
dump_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
