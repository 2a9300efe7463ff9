"""The dashboard over the rnnlab engine: everything between the page (app.py) and the engine.

    session.py      one browser session's Lab: the text, the run, earlier runs, messages
    player.py       Play: the run trained in a process of its own, mirrored into the session
    live_feed.py    the route the live panel asks while playing
    live_panel.py   the Training view's panel (live_panel/index.html), updated in place
    figures.py      the loss chart; insight_figures.py, the views inside the network
    safe_text.py    untrusted text made safe for markdown

It imports the engine (rnnlab) and Streamlit; the engine never imports it.
"""
