"""The browser HUD (package data: ``index.html``, ``style.css``, ``js/`` and the
third-party files in ``vendor/`` that ``make`` copies from ``node_modules``).

``cogpipe.server.app`` serves this folder; it is a package only so that it can be
found the same way in a wheel and in an editable install.
"""
