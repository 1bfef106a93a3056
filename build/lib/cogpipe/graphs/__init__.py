"""The graphs that ship with cogpipe (package data: the ``*.yaml`` files beside this one).

``cogpipe.settings.shipped_graphs_dir()`` finds this folder, in a wheel and in an
editable install alike; it is a package only so that it can be found that way.
"""
