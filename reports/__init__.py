"""Plots, self-contained HTML/PDF reports and findings in plain language.  matplotlib lives
only here."""
