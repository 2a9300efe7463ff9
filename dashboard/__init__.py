"""The dashboard over the rnnlab engine: everything between the page (app.py) and the engine.

    session.py      one browser session's Lab: the text, the run, earlier runs, messages
    player.py       Play: the run trained in a process of its own, mirrored into the session
    live_feed.py    the route the live panel asks while playing
    live_panel.py   the Training view's panel (live_panel/index.html), updated in place
    figures.py      the loss chart; insight_figures.py, the views inside the network
    safe_text.py    untrusted text made safe for markdown

The page's own pieces, in the order it draws them:

    page_state.py   the session's one Lab, made from the page's address, and what the controls ask
    page_model.py   what the page shows and offers in its own terms (the engine's numbers too)
    sidebar.py      the sidebar: text, model, training, resume, sampling
    panels.py       notices, pending changes, the text's card, the training buttons
    views/          one module per tab, in their on-screen order, and the fragment drawing them
    actions.py      the widgets' callbacks, and the one way a refused action becomes a message

It imports the engine (rnnlab) and Streamlit; the engine never imports it.
"""
