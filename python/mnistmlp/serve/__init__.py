"""``mnistmlp serve``: the notebook's lesson as a live local page (the ``serve`` extra).

:mod:`mnistmlp.serve.app` holds the web app and the server, :mod:`mnistmlp.serve._runs` the
training runs it streams, :mod:`mnistmlp.serve.drawing` the preprocessing of drawn digits
(NumPy only), and ``static/`` the page itself: its scripts and styles ship here, nothing is
fetched from another site.
"""
