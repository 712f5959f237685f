"""Entry point: page config and routing only. Pages live in dashboard/pages/."""

import streamlit as st

st.set_page_config(page_title="Clinic outcomes", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page("dashboard/pages/data_quality.py", title="Data quality", icon=":material/fact_check:", default=True),
]
st.navigation(pages).run()
