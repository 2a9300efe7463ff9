"""Pieces of the dashboard's page that Streamlit's own elements cannot draw well (Streamlit-side
code; the engine in rnnlab/ knows nothing of them)."""
