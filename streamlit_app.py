"""Entry point: page config, the shared sidebar (dashboard/filters.py) and routing. Pages live in dashboard/pages/."""

import streamlit as st

from dashboard import data, filters
from dashboard.i18n import t

st.set_page_config(page_title="Clinic outcomes", page_icon=":material/monitoring:", layout="wide")
data.pin_snapshot()  # one snapshot for the whole page view, even if a load publishes while it renders

lang = filters.language_selector()


def page(path: str, key: str, icon: str, **kwargs) -> st.Page:
    return st.Page(f"dashboard/pages/{path}.py", title=t(key, lang), icon=icon, **kwargs)


pages = {
    t("nav_section_quality", lang): [
        page("overview", "page_overview", ":material/dashboard:", default=True),
        page("complications", "page_complications", ":material/monitor_heart:"),
        page("clinicians", "page_clinicians", ":material/groups:"),
        page("responses", "page_responses", ":material/neurology:"),
    ],
    t("nav_section_management", lang): [
        page("costs", "page_costs", ":material/payments:"),
    ],
    t("nav_section_data", lang): [
        page("data_quality", "page_data_quality", ":material/fact_check:"),
        page("export", "page_export", ":material/download:"),
        page("about", "page_about", ":material/menu_book:"),
    ],
}
navigation = st.navigation(pages)
filters.sidebar()
navigation.run()
