"""The artist in the loop: refining an ``--init`` sketch with locked strokes, new strokes where
the artist points (``region``), erased strokes filled back (``plan``, ``starts``)."""
