"""The explorer dashboard (Streamlit): `streamlit run dashboard/app.py` from the repository root."""
