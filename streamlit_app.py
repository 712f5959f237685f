"""Entry point, routing only: page config, who is looking (dashboard/auth.py), the shared sidebar
(dashboard/components.py) and the page to run. The pages and who may open them are declared once, in
pipelines/release/access.py PAGES; their scripts live in dashboard/pages/."""

import streamlit as st

from dashboard import auth, components, data, filters
from dashboard import print as printing

st.set_page_config(page_title="Clinic outcomes", page_icon=":material/monitoring:", layout="wide")
auth.begin_run()

lang = filters.language_selector()
try:  # decided from the secrets, $CLINIC_DEMO, the token and the role file; the database is not opened yet
    viewer, problem = auth.viewer(), None
except (auth.RoleFileError, auth.SignInNotConfigured) as exc:
    viewer, problem = None, exc  # fail closed: no sign-in set up, or a broken role file, shows no page at all
if problem is None:
    data.pin_snapshot()  # one snapshot for the whole page view, even if a load publishes while it renders
    if viewer is not None and viewer.demo:
        problem = auth.demo_problem()  # demo mode serves only a snapshot the demo generator made
route = auth.navigation(None if problem else viewer, lang)
if problem:
    auth.problem_page(problem)
    st.stop()
if auth.admitted(viewer):  # else the sign-in or the no-access page has been drawn
    auth.sidebar(viewer)
    components.sidebar()
    printing.page_header(route.page.title)  # A4, no sidebar, the period, role and as-of date on paper
    auth.run(route, viewer)
