"""Where the routes the app adds to Streamlit's server live: under server.baseUrlPath if set."""

from __future__ import annotations


def under_base(path: str, base_url_path: str = "") -> str:
    """`path` ("" or starting with "/") on the app's server, under `base_url_path` if set."""
    base = base_url_path.strip("/")
    return f"/{base}{path}" if base else path
