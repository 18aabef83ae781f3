"""The command line: the argument parser, one exit point, and the commands it dispatches to."""
