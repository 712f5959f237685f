"""Entry point: page config, who is looking (dashboard/auth.py), the shared sidebar (dashboard/filters.py) and
routing. Pages live in dashboard/pages/."""

import streamlit as st

from dashboard import auth, data, filters

st.set_page_config(page_title="Clinic outcomes", page_icon=":material/monitoring:", layout="wide")
auth.begin_run()

SECTIONS = {  # section title key: [(page file stem, title key, icon)]; who sees which: pipelines/release/access.py
    "nav_section_quality": [
        ("overview", "page_overview", ":material/dashboard:"),
        ("complications", "page_complications", ":material/monitor_heart:"),
        ("clinicians", "page_clinicians", ":material/groups:"),
        ("responses", "page_responses", ":material/neurology:"),
    ],
    "nav_section_management": [
        ("costs", "page_costs", ":material/payments:"),
    ],
    "nav_section_data": [
        ("data_quality", "page_data_quality", ":material/fact_check:"),
        ("export", "page_export", ":material/download:"),
        ("about", "page_about", ":material/menu_book:"),
        ("access_log", "page_access_log", ":material/policy:"),
    ],
}

lang = filters.language_selector()
try:  # decided from the secrets, $CLINIC_DEMO, the token and the role file; the database is not opened yet
    viewer, problem = auth.viewer(), None
except (auth.RoleFileError, auth.SignInNotConfigured) as exc:
    viewer, problem = None, exc  # fail closed: no sign-in set up, or a broken role file, shows no page at all
if problem is None:
    data.pin_snapshot()  # one snapshot for the whole page view, even if a load publishes while it renders
    if viewer is not None and viewer.demo:
        problem = auth.demo_problem()  # demo mode serves only a snapshot the demo generator made
navigation = auth.navigation(SECTIONS, None if problem else viewer, lang)
if problem:
    auth.problem_page(problem)
    st.stop()
if auth.admitted(viewer):  # else the sign-in or the no-access page has been drawn
    auth.sidebar(viewer)
    filters.sidebar()
    auth.run(navigation, viewer)
