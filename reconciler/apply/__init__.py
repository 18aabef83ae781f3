"""Carrying out a plan: executor, journal, saved plan files, waiting for healthy stores."""
