"""Data quality: loads, rejected rows and the freshness of the data."""

import streamlit as st

from dashboard import data
from pipelines import quality

st.title("Data quality")
try:
    info = data.cached(quality.snapshot_info)
except data.NoDatabase:
    st.info("No database has been published yet. Load exports with `python -m pipelines load FILE...` "
            "or generate demo data with `python -m pipelines demo`.")
    st.stop()

fresh = data.cached(quality.data_freshness)
c1, c2, c3 = st.columns(3)
c1.metric("Snapshot", f"v{info['version']}")
c2.metric("Newest treatment", str(fresh["last_treatment_on"] or "none"))
c3.metric("Last load", str(fresh["last_load_at"] or "none"))
st.subheader("Rows per table")
st.dataframe(data.cached(quality.table_counts), hide_index=True)
st.subheader("Loads")
st.dataframe(data.cached(quality.load_history), hide_index=True)
st.subheader("Rejected rows waiting for a fix")
st.dataframe(data.cached(quality.rejected_rows), hide_index=True)
