"""Explorer dashboard: `streamlit run dashboard/app.py` (from the repository root). Router + shared sidebar only.

`streamlit run` finds `app = st.App(...)` at the bottom and serves this file through it, so the default model
starts loading when the server starts (`resources.preload_on_start`), or right after a first visitor's page is
drawn when one arrives at once (`resources.VisitorSignal`): the Overview reads the stored model card, no model.
Every session's script run (and AppTest) executes the file as ``__main__``: the router.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts dashboard/ on sys.path, not the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import resources, state  # noqa: E402
from dashboard.components import errors, theme  # noqa: E402
from dashboard.components.text import md  # noqa: E402

APP_TITLE = "GAT Music Recommender"
PAGES = {
    "Explore": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview",
                default=True),
        st.Page("app_pages/recommendations.py", title="Recommendations", icon=":material/queue_music:",
                url_path="recommendations"),
        st.Page("app_pages/explanation.py", title="Why this song?", icon=":material/psychology:",
                url_path="explanation"),
    ],
    "Analyse": [
        st.Page("app_pages/compare.py", title="Compare models", icon=":material/compare_arrows:",
                url_path="compare"),
        st.Page("app_pages/cold_start.py", title="New listener", icon=":material/person_add:", url_path="cold_start"),
        st.Page("app_pages/explore.py", title="Catalogue & embeddings", icon=":material/scatter_plot:",
                url_path="explore"),
    ],
}


def _choose_checkpoint() -> None:
    state.put("model", st.session_state["w.model"])


def _choose_data() -> None:
    st.session_state["view.data"] = st.session_state["w.data"].strip() or None


def sidebar() -> None:
    """Checkpoint and dataset pickers, shared by every page."""
    with st.sidebar:
        st.subheader("Model", divider="violet")
        files = resources.checkpoint_files()
        if not files:
            st.error(f"No checkpoints in {md(resources.checkpoint_dir())}.", icon=":material/error:")
            return
        names = [f.name for f in files]
        if state.get("model") is not None and state.get("model") not in names:
            st.warning(f"Checkpoint {md(state.get('model'))} is not in the checkpoint folder; using {md(names[0])}.")
            state.put("model", None)
        st.session_state["w.model"] = state.get("model") or names[0]
        st.selectbox("Checkpoint", names, key="w.model", on_change=_choose_checkpoint,
                     help=f"Any *.pt file in {resources.checkpoint_dir()}")
        st.session_state["w.data"] = st.session_state.get("view.data") or ""
        roots = ", ".join(md(f"{resources.shown(root)}/") for root in resources.data_roots())
        st.text_input("Dataset folder", key="w.data", on_change=_choose_data, placeholder="the checkpoint's own",
                      help="Leave empty for the dataset the checkpoint was trained on, or name another folder with "
                           f"the same data (e.g. a copy) under {roots}. The server serves no other folder "
                           f"(set {md(resources.DATA_ROOTS_ENV)} to serve others).")


def sidebar_status() -> None:
    """What the page loaded, under the pickers (written after the page, so it never delays it)."""
    status = st.session_state.get("_model_status")
    if status is not None:
        ok, text = status
        st.sidebar.caption(f":material/{'check_circle' if ok else 'error'}: {md(text)}")


def main() -> None:
    """One script run: route, draw the sidebar and the page (inside the error boundary), publish the link."""
    # the icon before the router: after it, a page's Material icon would become the favicon, fetched from Google
    st.set_page_config(page_title=APP_TITLE, page_icon=theme.favicon(), layout="wide")
    page = st.navigation(PAGES)
    st.set_page_config(page_title=f"{page.title} · {APP_TITLE}")  # each tab titled by its page
    for warning in state.read_url():
        st.warning(warning, icon=":material/link_off:")
    sidebar()
    with errors.boundary(f"the {page.title} page"):
        page.run()
    state.publish(page.url_path or "overview")
    sidebar_status()
    resources.page_drawn()


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run` (it found this assignment): serve the file, loading the model at start-up
    from starlette.middleware import Middleware

    app = st.App(__file__, lifespan=resources.preload_on_start, middleware=[Middleware(resources.VisitorSignal)])
